// A guest NIC put together: virtio-net on a virtio-mmio slot, its data queues served by vswitchd
// over vhost-user, and the two KVM shortcuts that keep the VMM off the packet path: each data
// queue's notify write (the queue index written to QueueNotify) signals the backend's kick
// eventfd inside KVM (KVM_IOEVENTFD with DATAMATCH), and each of the backend's call eventfds
// raises the device's GSI inside KVM (KVM_IRQFD). Only the control queue's kicks and the
// guest's register accesses exit to the VMM.
using VSwitch.Vmm.Devices.Bus;
using VSwitch.Vmm.Devices.Virtio.Mmio;
using VSwitch.Vmm.Devices.Virtio.Net;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.VhostUser;

namespace VSwitch.Vmm.Machine;

internal sealed class NetworkInterface : IDisposable
{
    private readonly VhostUserNetBackend _backend;

    // The device and its transport live on in the MMIO bus; what the VM must release is the
    // backend's socket and eventfds.
    private NetworkInterface(VhostUserNetBackend backend, VirtioMmioTransport transport)
    {
        _backend = backend;
        Transport = transport;
    }

    /// <summary>The NIC's virtio-mmio window, which counts the guest's exits on it.</summary>
    public VirtioMmioTransport Transport { get; }

    public static NetworkInterface Attach(KvmVm vm, GuestMemory memory, DeviceBus mmio, int slot, NicConfig config, Action<string>? log)
    {
        VirtioNetDevice? device = null;
        int dataQueues = 2 * config.Device.QueuePairs;
        var backend = new VhostUserNetBackend(config.Socket, memory, dataQueues, up => device?.SetLink(up), log);
        try
        {
            device = new VirtioNetDevice(config.Device, backend);
            ulong address = VirtioSlots.Address(slot);
            uint gsi = VirtioSlots.Gsi(slot);
            var transport = new VirtioMmioTransport(device, memory, new GsiLine(vm, gsi), log) { UsedBuffersByIrqfd = true };
            mmio.Register(address, VirtioMmioTransport.WindowSize, transport, $"virtio-net {slot} ({config.Socket})");
            for (int queue = 0; queue < dataQueues; queue++)
            {
                vm.AddIoeventfd(address + VirtioMmioTransport.RegQueueNotify, 4, (ulong)queue, backend.KickOf(queue));
                vm.AddIrqfd(gsi, backend.CallOf(queue));
            }
            return new NetworkInterface(backend, transport);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    public void Dispose() => _backend.Dispose();
}
