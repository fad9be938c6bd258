// virtio-net's data queues served by a vhost-user backend (vswitchd): the eventfds each queue
// kicks and is called through, made once when the VM is built so KVM can take them
// (KVM_IOEVENTFD on the queue's notify write; the calls are the device's one irqfd), and the frontend
// that hands the rings over. With both registered in KVM, a packet moves guest <-> vswitchd
// without the VMM's user space; Kick is the path for a guest write KVM did not take.
using VSwitch.Vmm.Devices.Virtio;
using VSwitch.Vmm.Devices.Virtio.Net;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Interop;

namespace VSwitch.Vmm.VhostUser;

public sealed class VhostUserNetBackend : INetBackend, IDisposable
{
    /// <summary>
    /// The ring features the guest is offered. Fixed rather than read from the backend, so the
    /// guest can negotiate before vswitchd connects (a VM does not wait for its switch); DPDK's
    /// vhost library serves all of them, and a backend that lacks one is refused at connect.
    /// </summary>
    public const ulong RingFeatures = VirtioNetDevice.DataQueueRingFeatures;

    /// <summary>
    /// The negotiated bits that concern the backend, which is all SET_FEATURES carries: the ring
    /// formats, VERSION_1 and multiqueue. The rest (MAC, MTU, STATUS, the control queue) is the
    /// VMM's own business, as QEMU's vhost-user-net keeps it too.
    /// </summary>
    public const ulong BackendFeatureMask = RingFeatures | VirtioFeatures.Version1 | VirtioNetDevice.FeatureMultiqueue;

    private readonly VhostUserFrontend _frontend;
    private readonly EventFd[] _kicks;
    private readonly EventFd[] _calls;
    private readonly bool _ownsCalls;

    /// <param name="dataQueues">Rings of the device's data queues: 2 per queue pair.</param>
    /// <param name="linkChanged">Where the backend's coming and going goes (VirtioNetDevice.SetLink).</param>
    /// <param name="call">
    /// The eventfd every ring calls through, the device's interrupt (Machine/DeviceInterrupt.cs),
    /// not owned; null gives each ring its own, so a test can tell the rings' calls apart.
    /// </param>
    public VhostUserNetBackend(string socketPath, GuestMemory memory, int dataQueues, Action<bool>? linkChanged, Action<string>? log = null, EventFd? call = null)
    {
        _kicks = new EventFd[dataQueues];
        _calls = new EventFd[dataQueues];
        _ownsCalls = call is null;
        try
        {
            for (int i = 0; i < dataQueues; i++)
            {
                _kicks[i] = EventFd.Create();
                _calls[i] = call ?? EventFd.Create();
            }
            _frontend = new VhostUserFrontend(socketPath, memory, linkChanged, log);
        }
        catch
        {
            DisposeEventFds();
            throw;
        }
    }

    public VhostUserFrontend Frontend => _frontend;

    /// <summary>The eventfd the backend waits on for queue <paramref name="queue"/>'s kicks.</summary>
    public EventFd KickOf(int queue) => _kicks[queue];

    /// <summary>The eventfd the backend signals when it has used buffers of queue <paramref name="queue"/>.</summary>
    public EventFd CallOf(int queue) => _calls[queue];

    public ulong Features => RingFeatures;

    public string? Start(VirtioActivation activation, IReadOnlyList<QueueConfig?> dataQueues)
    {
        if (dataQueues.Count != _kicks.Length)
            return $"{dataQueues.Count} data queues, the backend was built for {_kicks.Length}";
        if (dataQueues[0] is null || dataQueues[1] is null)
            return "the first queue pair (receiveq1, transmitq1) is not ready";
        var vrings = new VhostVring?[dataQueues.Count];
        for (int i = 0; i < vrings.Length; i++)
            vrings[i] = dataQueues[i] is QueueConfig config ? new VhostVring(config, _kicks[i], _calls[i]) : null;
        // 5.1.6.5.5: the device starts with one pair until the driver sets more.
        _frontend.Start(activation.Features & BackendFeatureMask, vrings, enabledPairs: 1);
        return null;
    }

    public bool SetQueuePairs(int pairs) => _frontend.SetQueuePairs(pairs);

    public void Kick(int queue) => _kicks[queue].Signal();

    public void Stop() => _frontend.Stop();

    public void Dispose()
    {
        _frontend.Dispose();
        DisposeEventFds();
    }

    private void DisposeEventFds()
    {
        foreach (EventFd? fd in _ownsCalls ? _kicks.Concat(_calls) : _kicks)
            fd?.Dispose();
    }
}
