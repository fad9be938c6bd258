// A guest NIC put together: virtio-net on a virtio-mmio slot, its data queues served by vswitchd
// over vhost-user, and the two KVM shortcuts that keep the VMM off the packet path: each data
// queue's notify write (the queue index written to QueueNotify) signals the backend's kick
// eventfd inside KVM (KVM_IOEVENTFD with DATAMATCH), and the backend's calls raise the device's
// GSI inside KVM: every data ring's call is the device's one interrupt eventfd (DeviceInterrupt,
// an irqfd), which the VMM signals too. Only the control queue's kicks and the guest's register
// accesses exit to the VMM.
using VSwitch.Vmm.Devices.Bus;
using VSwitch.Vmm.Devices.Virtio.Mmio;
using VSwitch.Vmm.Devices.Virtio.Net;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.VhostUser;

namespace VSwitch.Vmm.Machine;

internal sealed class NetworkInterface : IDisposable
{
    private readonly VhostUserNetBackend _backend;
    private readonly DeviceInterrupt _interrupt;

    // The device and its transport live on in the MMIO bus; what the VM must release is the
    // backend's socket and the eventfds.
    private NetworkInterface(VhostUserNetBackend backend, DeviceInterrupt interrupt, VirtioMmioTransport transport)
    {
        _backend = backend;
        _interrupt = interrupt;
        Transport = transport;
    }

    /// <summary>The NIC's virtio-mmio window, which counts the guest's exits on it.</summary>
    public VirtioMmioTransport Transport { get; }

    public static NetworkInterface Attach(KvmVm vm, GuestMemory memory, DeviceBus mmio, int slot, NicConfig config, Action<string>? log)
    {
        VirtioNetDevice? device = null;
        int dataQueues = 2 * config.Device.QueuePairs;
        DeviceInterrupt interrupt = DeviceInterrupt.Attach(vm, VirtioSlots.Gsi(slot));
        VhostUserNetBackend? backend = null;
        try
        {
            backend = new VhostUserNetBackend(config.Socket, memory, dataQueues, up => device?.SetLink(up), log, interrupt.EventFd);
            device = new VirtioNetDevice(config.Device, backend);
            ulong address = VirtioSlots.Address(slot);
            var transport = new VirtioMmioTransport(device, memory, interrupt, log) { UsedBuffersByIrqfd = true };
            mmio.Register(address, VirtioMmioTransport.WindowSize, transport, $"virtio-net {slot} ({config.Socket})");
            for (int queue = 0; queue < dataQueues; queue++)
                vm.AddIoeventfd(address + VirtioMmioTransport.RegQueueNotify, 4, (ulong)queue, backend.KickOf(queue));
            return new NetworkInterface(backend, interrupt, transport);
        }
        catch
        {
            backend?.Dispose();
            interrupt.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _backend.Dispose();
        _interrupt.Dispose();
    }
}
