// A guest disk put together: virtio-blk on a virtio-mmio slot, serving a volume the VMM opened.
// Each request queue has a kick eventfd that KVM signals on the guest's notify write
// (KVM_IOEVENTFD with DATAMATCH, so the kick never exits to the VMM's user space) and an I/O
// thread that waits on it and serves the queue; completions raise the device's interrupt
// (DeviceInterrupt: one irqfd, whichever queue completes). The vCPUs never wait for the volume.
using VSwitch.Vmm.Devices.Bus;
using VSwitch.Vmm.Devices.Virtio.Block;
using VSwitch.Vmm.Devices.Virtio.Mmio;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Interop;
using VSwitch.Vmm.Volumes;

namespace VSwitch.Vmm.Machine;

internal sealed class BlockDisk : IDisposable
{
    private readonly IBlockVolume _volume;
    private readonly EventFd[] _kicks;
    private readonly DeviceInterrupt _interrupt;
    private readonly Thread[] _threads;
    private volatile bool _stopping;

    private BlockDisk(IBlockVolume volume, VirtioBlockDevice device, VirtioMmioTransport transport, EventFd[] kicks, DeviceInterrupt interrupt)
    {
        _volume = volume;
        _interrupt = interrupt;
        Device = device;
        Transport = transport;
        _kicks = kicks;
        _threads = new Thread[kicks.Length];
    }

    public VirtioBlockDevice Device { get; }

    /// <summary>The disk's virtio-mmio window, which counts the guest's exits on it.</summary>
    public VirtioMmioTransport Transport { get; }

    /// <summary>Puts the device on <paramref name="slot"/>; takes ownership of <paramref name="volume"/>.</summary>
    public static BlockDisk Attach(KvmVm vm, GuestMemory memory, DeviceBus mmio, int slot, IBlockVolume volume, int queues, Action<string>? log)
    {
        var kicks = new EventFd[queues];
        DeviceInterrupt? interrupt = null;
        try
        {
            for (int queue = 0; queue < queues; queue++)
                kicks[queue] = EventFd.Create();
            interrupt = DeviceInterrupt.Attach(vm, VirtioSlots.Gsi(slot));
            var device = new VirtioBlockDevice(volume, queues, queue => kicks[queue].Signal());
            ulong address = VirtioSlots.Address(slot);
            var transport = new VirtioMmioTransport(device, memory, interrupt, log);
            mmio.Register(address, VirtioMmioTransport.WindowSize, transport, $"virtio-blk {slot} ({volume.Id})");
            for (int queue = 0; queue < queues; queue++)
                vm.AddIoeventfd(address + VirtioMmioTransport.RegQueueNotify, 4, (ulong)queue, kicks[queue]);
            var disk = new BlockDisk(volume, device, transport, kicks, interrupt);
            for (int queue = 0; queue < queues; queue++)
            {
                int served = queue;
                disk._threads[queue] = new Thread(() => disk.Serve(served)) { IsBackground = true, Name = $"blk{slot}-q{queue}" };
                disk._threads[queue].Start();
            }
            return disk;
        }
        catch
        {
            foreach (EventFd? kick in kicks)
                kick?.Dispose();
            interrupt?.Dispose();
            volume.Dispose();
            throw;
        }
    }

    private void Serve(int queue)
    {
        while (true)
        {
            _kicks[queue].Wait(Timeout.InfiniteTimeSpan);
            if (_stopping)
                return;
            Device.Process(queue);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (EventFd kick in _kicks)
            kick.Signal();
        foreach (Thread thread in _threads)
            thread?.Join();
        foreach (EventFd kick in _kicks)
            kick.Dispose();
        _interrupt.Dispose();
        _volume.Dispose();
    }
}
