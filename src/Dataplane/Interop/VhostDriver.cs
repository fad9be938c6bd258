// The safe face of DPDK's vhost-user driver (Interop.Vhost.cs) for the control side: register
// and start a socket, unregister it, read what a connected frontend negotiated, and receive the
// library's device events. The events run on DPDK's vhost-events thread; they reach C# through
// one table of unmanaged function pointers shared by every socket.
using System.Runtime.InteropServices;
using static VSwitch.Dataplane.Interop.Interop;

namespace VSwitch.Dataplane.Interop;

/// <summary>What DPDK's vhost library tells about the devices behind its sockets, on its own thread.</summary>
public interface IVhostEvents
{
    /// <summary>A frontend finished negotiating on <paramref name="socket"/>: device <paramref name="vid"/> may run. False refuses it.</summary>
    bool DeviceReady(string socket, int vid);
    /// <summary>Device <paramref name="vid"/> is going away (destroy_device, or its connection closed); once this returns, no worker may use the vid.</summary>
    void DeviceGone(string socket, int vid);
    /// <summary>The frontend enabled or disabled vring <paramref name="vring"/> (even: guest rx, odd: guest tx).</summary>
    void VringStateChanged(string socket, int vid, int vring, bool enabled);
}

public sealed class VhostException(string message) : Exception(message);

public static unsafe class VhostDriver
{
    /// <summary>
    /// Offloads the switch does not take (virtio 1.2 section 5.1.3): checksum offload and
    /// segmentation both ways. A frame from a guest with a partial checksum or a 64 KiB TSO
    /// segment would reach another VM or the tunnel as the guest left it, unfinished, and every
    /// frame must fit one mbuf. Mergeable rx buffers, multiqueue and the ring formats stay.
    /// </summary>
    public const ulong DisabledFeatures =
        1UL << 0   // VIRTIO_NET_F_CSUM
        | 1UL << 1   // VIRTIO_NET_F_GUEST_CSUM
        | 1UL << 7   // VIRTIO_NET_F_GUEST_TSO4
        | 1UL << 8   // VIRTIO_NET_F_GUEST_TSO6
        | 1UL << 9   // VIRTIO_NET_F_GUEST_ECN
        | 1UL << 10  // VIRTIO_NET_F_GUEST_UFO
        | 1UL << 11  // VIRTIO_NET_F_HOST_TSO4
        | 1UL << 12  // VIRTIO_NET_F_HOST_TSO6
        | 1UL << 13  // VIRTIO_NET_F_HOST_ECN
        | 1UL << 14; // VIRTIO_NET_F_HOST_UFO

    private static IVhostEvents? s_events;
    private static VhostDeviceOps* s_ops;
    private static readonly Lock s_lock = new();

    /// <summary>Where the device events go; set once, before the first socket is registered.</summary>
    public static void SetEvents(IVhostEvents events)
    {
        lock (s_lock)
        {
            s_events = events;
            if (s_ops != null)
                return;
            // SAFETY: one table for the process's lifetime, never freed: the library keeps its
            // address for every socket registered with it.
            s_ops = (VhostDeviceOps*)NativeMemory.AllocZeroed((nuint)sizeof(VhostDeviceOps));
            s_ops->NewDevice = &OnNewDevice;
            s_ops->DestroyDevice = &OnDestroyDevice;
            s_ops->VringStateChanged = &OnVringStateChanged;
            s_ops->DestroyConnection = &OnDestroyConnection;
        }
    }

    /// <summary>Registers <paramref name="socket"/> (listening, or connecting as a client that reconnects by itself), with the switch's feature set, and starts it.</summary>
    /// <exception cref="VhostException">The library refused the socket; the message names the call.</exception>
    public static void Start(string socket, bool client)
    {
        if (s_ops == null)
            throw new InvalidOperationException("VhostDriver.SetEvents must come first");
        Check(socket, "rte_vhost_driver_register", rte_vhost_driver_register(socket, client ? VhostUserClient : 0));
        try
        {
            Check(socket, "rte_vhost_driver_disable_features", rte_vhost_driver_disable_features(socket, DisabledFeatures));
            Check(socket, "rte_vhost_driver_callback_register", rte_vhost_driver_callback_register(socket, s_ops));
            Check(socket, "rte_vhost_driver_start", rte_vhost_driver_start(socket));
        }
        catch
        {
            _ = rte_vhost_driver_unregister(socket);
            throw;
        }
    }

    /// <summary>Closes the socket and its connection; the device's DeviceGone runs first, on this thread.</summary>
    public static void Stop(string socket) => _ = rte_vhost_driver_unregister(socket);

    /// <summary>The features the frontend of <paramref name="vid"/> acked; 0 when it cannot be read.</summary>
    public static ulong NegotiatedFeatures(int vid)
    {
        ulong features;
        return rte_vhost_get_negotiated_features(vid, &features) == 0 ? features : 0;
    }

    /// <summary>The vrings the frontend of <paramref name="vid"/> set up (two per queue pair).</summary>
    public static int VringCount(int vid) => rte_vhost_get_vring_num(vid);

    /// <summary>Makes the first calls of the burst functions on <paramref name="vid"/> here, so that no worker binds (and allocates) them.</summary>
    public static void BindBursts(int vid, IntPtr mempool) => BindVhostBursts(vid, mempool);

    /// <summary>Stops the guest from kicking vring <paramref name="vring"/>: the workers poll it anyway.</summary>
    public static void DisableGuestKicks(int vid, int vring) => _ = rte_vhost_enable_guest_notification(vid, (ushort)vring, 0);

    private static string? SocketOf(int vid)
    {
        const int PathMax = 4096;
        // SAFETY: the library writes at most len bytes into the buffer, NUL-terminated.
        byte* name = stackalloc byte[PathMax];
        return rte_vhost_get_ifname(vid, name, PathMax) == 0 ? Marshal.PtrToStringUTF8((IntPtr)name) : null;
    }

    private static void Check(string socket, string call, int rc)
    {
        if (rc < 0)
            throw new VhostException($"{call}({socket}) failed; see DPDK's VHOST_CONFIG messages above");
    }

    // The callbacks: an exception must not unwind into C, so each is caught and logged here.

    [UnmanagedCallersOnly]
    private static int OnNewDevice(int vid) => Dispatch(vid, "new_device", (events, socket) => events.DeviceReady(socket, vid)) ? 0 : -1;

    [UnmanagedCallersOnly]
    private static void OnDestroyDevice(int vid) => Gone(vid, "destroy_device");

    // A connection can close before its device ever became ready (no destroy_device then), and
    // the vrings it enabled must not outlive it; the library calls this first on every close.
    [UnmanagedCallersOnly]
    private static void OnDestroyConnection(int vid) => Gone(vid, "destroy_connection");

    private static void Gone(int vid, string callback) => Dispatch(vid, callback, (events, socket) =>
    {
        events.DeviceGone(socket, vid);
        return true;
    });

    [UnmanagedCallersOnly]
    private static int OnVringStateChanged(int vid, ushort vring, int enable) =>
        Dispatch(vid, "vring_state_changed", (events, socket) =>
        {
            events.VringStateChanged(socket, vid, vring, enable != 0);
            return true;
        }) ? 0 : -1;

    private static bool Dispatch(int vid, string callback, Func<IVhostEvents, string, bool> handle)
    {
        try
        {
            if (s_events is not { } events || SocketOf(vid) is not { } socket)
                return false;
            return handle(events, socket);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"vswitchd: vhost {callback} for device {vid} failed: {e}");
            return false;
        }
    }
}
