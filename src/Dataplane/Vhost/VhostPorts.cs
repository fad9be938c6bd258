// The vhost-user ports of one vswitchd: each port's socket registered with DPDK's vhost library
// (listening, or connecting and reconnecting as a client, the model of OVS-DPDK's
// dpdkvhostuserclient), and the library's device events turned into VhostPort state that the
// workers read. A device that goes away is withdrawn from the workers before the library may
// free it: the event waits until every worker has finished a poll loop without it.
using System.Collections.Concurrent;
using VSwitch.Common.Sockets;
using VSwitch.Dataplane.Interop;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Vhost;

public sealed class VhostPorts : IVhostEvents
{
    private readonly ConcurrentDictionary<string, VhostPort> _bySocket = new(StringComparer.Ordinal);
    private readonly IntPtr _mempool;
    private readonly Action _waitForWorkers;
    private readonly Action<string> _log;

    /// <param name="mempool">The packet pool the workers dequeue into.</param>
    /// <param name="waitForWorkers">Returns once every running worker has completed a poll loop begun after the call.</param>
    public VhostPorts(IntPtr mempool, Action waitForWorkers, Action<string> log)
    {
        _mempool = mempool;
        _waitForWorkers = waitForWorkers;
        _log = log;
        VhostDriver.SetEvents(this);
    }

    /// <summary>
    /// Registers the port's socket and starts it. A server socket left by a vswitchd that was
    /// killed is replaced; one that another process still listens on is refused.
    /// </summary>
    /// <exception cref="PortSetupException">The socket cannot be used; the message names the port and the path.</exception>
    public VhostPort Start(PortSpec spec, ushort portId)
    {
        VhostUserSpec vhost = spec.VhostUser ?? throw new ArgumentException($"port '{spec.Name}' is no vhost-user port", nameof(spec));
        if (vhost.Mode == VhostUserMode.Server)
            ClaimServerSocket(spec.Name, vhost.Socket);
        var port = new VhostPort(spec.Name, portId, vhost, spec.Queues);
        if (!_bySocket.TryAdd(vhost.Socket, port))
            throw new PortSetupException($"port '{spec.Name}': vhost_user.socket: {vhost.Socket} is already the socket of port '{_bySocket[vhost.Socket].Name}'");
        try
        {
            VhostDriver.Start(vhost.Socket, client: vhost.Mode == VhostUserMode.Client);
        }
        catch (VhostException e)
        {
            _bySocket.TryRemove(vhost.Socket, out _);
            throw new PortSetupException($"port '{spec.Name}': vhost_user.socket: {e.Message}");
        }
        return port;
    }

    /// <summary>Closes the port's socket and connection. Call once no table lists the port any more.</summary>
    public void Stop(VhostPort port)
    {
        VhostDriver.Stop(port.Socket);
        _bySocket.TryRemove(port.Socket, out _);
        port.Disconnected();
    }

    private static void ClaimServerSocket(string name, string socket)
    {
        try
        {
            switch (SocketPath.Probe(socket))
            {
                case SocketPathState.Listening:
                    throw new PortSetupException($"port '{name}': vhost_user.socket: another process is listening on {socket}");
                case SocketPathState.Stale:
                    File.Delete(socket); // left by a vswitchd that was killed: nobody answers on it
                    break;
            }
        }
        catch (IOException e)
        {
            throw new PortSetupException($"port '{name}': vhost_user.socket: {e.Message}");
        }
    }

    public bool DeviceReady(string socket, int vid)
    {
        if (!_bySocket.TryGetValue(socket, out VhostPort? port))
            return false;
        if (port.Vid >= 0 && port.Vid != vid)
        {
            // A server socket accepts any number of connections; a port is one vNIC.
            _log($"port '{port.Name}': refused a second vhost-user frontend on {socket} (device {vid}); device {port.Vid} is connected");
            return false;
        }
        int vrings = VhostDriver.VringCount(vid);
        // The workers poll every enabled vring: the guest need not kick (a notification is an exit).
        for (int vring = 0; vring < vrings; vring++)
            VhostDriver.DisableGuestKicks(vid, vring);
        ulong features = VhostDriver.NegotiatedFeatures(vid);
        VhostDriver.BindBursts(vid, _mempool);
        port.Connected(vid, features, vrings);
        string extra = vrings / 2 > port.Queues
            ? $"; the frontend has {vrings / 2} queue pairs, only the first {port.Queues} configured are polled"
            : "";
        _log($"port '{port.Name}': vhost-user frontend connected on {socket} (device {vid}, {vrings / 2} queue pair(s), features 0x{features:x}){extra}");
        return true;
    }

    public void DeviceGone(string socket, int vid)
    {
        if (!_bySocket.TryGetValue(socket, out VhostPort? port))
            return;
        if (port.Vid != vid)
        {
            // Never ready (or already gone): no worker uses it, but the vrings it enabled go.
            if (port.Vid < 0)
                port.Disconnected();
            return;
        }
        port.Disconnected();
        try
        {
            _waitForWorkers();
        }
        catch (TimeoutException e)
        {
            _log($"port '{port.Name}': vhost device {vid} went away while {e.Message}");
        }
        _log($"port '{port.Name}': vhost-user frontend disconnected from {socket} (device {vid})");
    }

    public void VringStateChanged(string socket, int vid, int vring, bool enabled)
    {
        if (_bySocket.TryGetValue(socket, out VhostPort? port) && (port.Vid < 0 || port.Vid == vid))
            port.SetVring(vring, enabled);
    }
}
