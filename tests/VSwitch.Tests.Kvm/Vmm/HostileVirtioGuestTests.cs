// A hand-built hostile guest against the VMM's virtio-net control queue, through real KVM exits:
// a real-mode program (RealModeGuest: 64 KiB of RAM, everything above exits as MMIO) replays a
// script of 32-bit register writes to two virtio-mmio devices at 0x20000 and 0x21000, then writes
// 'K' to COM1 and halts. The rings it drives were laid in its RAM beforehand, as a guest would.
// Device B is given a control queue of size 0; device A gets, on its control queue, a looping
// chain, descriptors in the MMIO hole (device A's own window), above the top of RAM, wrapping at
// 2^64 and across the edge of RAM's slot, an indirect table longer than the queue, and last a
// valid request (the positive control). The VMM must refuse and count each, answer the valid
// one, fail only device B, and still serve the serial port. A second guest drives a virtio-blk
// device on a raw-file volume with requests past its end, with an overflowing sector, with
// partial sectors and with data in the MMIO hole, then a valid write: each fails with its status,
// only the valid write reaches the file, and the NIC beside it still answers.
using System.Buffers.Binary;
using VSwitch.Tests.Kvm.Kvm;
using VSwitch.Tests.Unit.Vmm.Virtio;
using VSwitch.Vmm.Devices.Bus;
using VSwitch.Vmm.Devices.Serial;
using VSwitch.Vmm.Devices.Virtio;
using VSwitch.Vmm.Devices.Virtio.Block;
using VSwitch.Vmm.Devices.Virtio.Mmio;
using VSwitch.Vmm.Devices.Virtio.Net;
using VSwitch.Vmm.Devices.Virtio.Queue;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;
using VSwitch.Vmm.VhostUser;
using VSwitch.Vmm.Volumes;
using Xunit;
using T = VSwitch.Vmm.Devices.Virtio.Mmio.VirtioMmioTransport;

namespace VSwitch.Tests.Kvm.Vmm;

public sealed class HostileVirtioGuestTests : IDisposable
{
    private const ulong DeviceA = 0x2_0000, DeviceB = 0x2_1000;
    private const ulong Script = 0x3000;
    private const ushort QueueSize = 16;
    private static readonly QueueConfig s_control = new(QueueSize, 0x4000, 0x4200, 0x4400);
    private static readonly QueueConfig s_rx = new(QueueSize, 0x5000, 0x5200, 0x5400);
    private static readonly QueueConfig s_tx = new(QueueSize, 0x6000, 0x6200, 0x6400);

    // mov ax,0x2000; mov es,ax; mov si,Script; then for each (u16 offset, u32 value) until offset
    // 0xffff: mov [es:offset], value (one 32-bit MMIO write each); then COM1 'K' and hlt.
    private static readonly byte[] Program =
    [
        0xB8, 0x00, 0x20,             // 1000  mov ax, 0x2000
        0x8E, 0xC0,                   // 1003  mov es, ax            ES base 0x20000: the devices
        0xBE, 0x00, 0x30,             // 1005  mov si, 0x3000        the script
        0x8B, 0x1C,                   // 1008  mov bx, [si]          loop: register offset
        0x83, 0xFB, 0xFF,             // 100a  cmp bx, -1
        0x74, 0x0D,                   // 100d  je 101c
        0x66, 0x8B, 0x44, 0x02,       // 100f  mov eax, [si+2]       the value
        0x26, 0x66, 0x89, 0x07,       // 1013  mov [es:bx], eax      -> KVM_EXIT_MMIO, 4 bytes
        0x83, 0xC6, 0x06,             // 1017  add si, 6
        0xEB, 0xEC,                   // 101a  jmp 1008
        0xBA, 0xF8, 0x03,             // 101c  mov dx, 0x3f8
        0xB0, 0x4B,                   // 101f  mov al, 'K'
        0xEE,                         // 1021  out dx, al            -> KVM_EXIT_IO, COM1
        0xF4,                         // 1022  hlt
    ];

    private readonly string _dir = Directory.CreateTempSubdirectory("vmm-hostile.").FullName;
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (IDisposable d in _disposables)
            d.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private (VirtioNetDevice Device, T Transport) Nic(GuestMemory memory, string name)
    {
        var backend = new VhostUserNetBackend(Path.Combine(_dir, $"{name}.sock"), memory, dataQueues: 2, linkChanged: null);
        _disposables.Add(backend);
        var device = new VirtioNetDevice(new NetDeviceConfig([2, 0, 0, 0, 0, 1], 1500, 1), backend);
        return (device, new T(device, memory, new NoInterrupt()));
    }

    private const ulong NetFeatures = VirtioFeatures.Version1 | VirtioNetDevice.FeatureControlQueue | VirtioFeatures.RingIndirectDescriptors;

    /// <summary>The register writes that bring a device up with these queues, as Linux's virtio_mmio does them.</summary>
    private static IEnumerable<(int Offset, uint Value)> BringUp(ulong device, ulong features, params QueueConfig[] queues)
    {
        int b = (int)(device - DeviceA);
        yield return (b + T.RegStatus, 1);
        yield return (b + T.RegStatus, 3);
        yield return (b + T.RegDriverFeaturesSel, 0);
        yield return (b + T.RegDriverFeatures, unchecked((uint)features));
        yield return (b + T.RegDriverFeaturesSel, 1);
        yield return (b + T.RegDriverFeatures, (uint)(features >> 32));
        yield return (b + T.RegStatus, 11);
        foreach ((QueueConfig q, int index) in queues.Select((q, i) => (q, i)))
        {
            yield return (b + T.RegQueueSel, (uint)index);
            yield return (b + T.RegQueueNum, q.Size);
            yield return (b + T.RegQueueDescLow, (uint)q.DescriptorTable);
            yield return (b + T.RegQueueDriverLow, (uint)q.AvailableRing);
            yield return (b + T.RegQueueDeviceLow, (uint)q.UsedRing);
            yield return (b + T.RegQueueReady, 1);
        }
        yield return (b + T.RegStatus, 15);
    }

    [Fact]
    public void Hostile_control_queue_chains_are_refused_and_counted_and_the_VMM_and_its_other_devices_go_on()
    {
        using var guest = new RealModeGuest(Program);
        GuestMemory memory = guest.Memory;
        (VirtioNetDevice netA, T a) = Nic(memory, "a");
        (_, T b) = Nic(memory, "b");
        var mmio = new DeviceBus("mmio");
        mmio.Register(DeviceA, T.WindowSize, a, "virtio-net a");
        mmio.Register(DeviceB, T.WindowSize, b, "virtio-net b");
        var console = new MemoryStream();
        var serial = new Uart16550(console, new NoInterrupt());

        // Device A's control queue: seven chains, the last one valid.
        var driver = new DriverQueue(memory, s_control);
        driver.Descriptor(0, 0x8000, 4, DriverQueue.Next, 1);                          // a loop: 0 -> 1 -> 0
        driver.Descriptor(1, 0x8010, 4, DriverQueue.Next, 0);
        driver.Descriptor(2, DeviceA, 4);                                              // the MMIO hole: A's own registers
        driver.Descriptor(3, RealModeGuest.RamSize, 4);                                // above the top of RAM
        driver.Descriptor(4, ulong.MaxValue - 3, 8);                                   // wrapping at 2^64
        driver.Descriptor(5, RealModeGuest.RamSize - 4, 8);                            // across the edge of RAM's slot
        driver.Descriptor(6, 0xa000, 16 * (QueueSize + 1), DriverQueue.Indirect);      // longer than the queue
        driver.Descriptor(7, 0x8100, 4, DriverQueue.Next, 8);                          // valid: MQ_VQ_PAIRS_SET 1
        driver.Descriptor(8, 0x9000, 1, DriverQueue.Write);
        memory.Write(0x8100, [NetControlQueue.ClassMq, NetControlQueue.MqVqPairsSet, 1, 0]);
        memory.Write(0x9000, [0xaa]);
        ushort[] heads = [0, 2, 3, 4, 5, 6, 7];
        foreach (ushort head in heads)
            driver.Publish(head);

        // The script: device B with a control queue of size 0, then device A, then A's kick.
        var script = new List<(int Offset, uint Value)>();
        script.AddRange(BringUp(DeviceB, NetFeatures, new(QueueSize, 0x7000, 0x7200, 0x7400), new(QueueSize, 0x7800, 0x7a00, 0x7c00), s_control with { Size = 0 }));
        script.AddRange(BringUp(DeviceA, NetFeatures, s_rx, s_tx, s_control));
        script.Add((T.RegQueueNotify, 2)); // device A's control queue
        RunScript(guest, memory, script, mmio, serial);
        serial.Flush();

        Assert.Equal("K", System.Text.Encoding.ASCII.GetString(console.ToArray()));
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk, a.Status);
        Assert.True((b.Status & DeviceStatus.NeedsReset) != 0, $"device B: {b.Status}");
        Assert.Equal(1, b.Refusals[(int)MmioRefusal.ActivationFailed]);

        NetControlQueue control = netA.Control!;
        string errors = string.Join(", ", Enum.GetValues<ChainError>().Select(e => $"{e.Label()} {control.Queue.Errors[(int)e]}").Where(t => !t.EndsWith(" 0")));
        Assert.Equal("too_long 1, buffer_outside_memory 4, indirect_table_length 1", errors);
        Assert.Equal(ChainError.None, control.Queue.BrokenBy);
        Assert.Equal(1, control.Outcomes[(int)ControlOutcome.Ok]);
        // Every chain came back: six with 0 bytes, the valid one with its 1-byte ack, VIRTIO_NET_OK.
        Assert.Equal(heads.Length, driver.UsedIndex);
        for (int i = 0; i < heads.Length; i++)
            Assert.Equal(((uint)heads[i], i == heads.Length - 1 ? 1u : 0u), driver.Used(i));
        Assert.Equal(NetControlQueue.Ok, memory.GetSpan(0x9000, 1)[0]);
    }

    /// <summary>Writes the script the program replays, runs the guest to its halt.</summary>
    private static void RunScript(RealModeGuest guest, GuestMemory memory, List<(int Offset, uint Value)> script, DeviceBus mmio, Uart16550 serial)
    {
        for (int i = 0; i < script.Count; i++)
        {
            Span<byte> entry = memory.GetSpan(Script + 6UL * (uint)i, 6);
            BinaryPrimitives.WriteUInt16LittleEndian(entry, (ushort)script[i].Offset);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[2..], script[i].Value);
        }
        BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(Script + 6UL * (uint)script.Count, 2), 0xffff);
        RunToHalt(guest.Vcpu, mmio, serial, maxExits: 4 * script.Count + 16);
    }

    // virtio-blk on device B with a 64 KiB raw-file volume (128 sectors) filled with 0x11; device A
    // is a NIC whose valid control request is the other device's positive control.
    [Fact]
    public void Hostile_block_requests_fail_with_their_status_and_touch_nothing_outside_their_volume()
    {
        const int VolumeBytes = 64 << 10;
        const ulong Headers = 0x8000, Data = 0x9000, Statuses = 0xc000;
        using var guest = new RealModeGuest(Program);
        GuestMemory memory = guest.Memory;
        string path = Path.Combine(_dir, "vol.img");
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0x11, VolumeBytes).ToArray());
        var volume = RawFileVolume.Open(path, "vol", readOnly: false);
        _disposables.Add(volume);
        VirtioBlockDevice? disk = null;
        disk = new VirtioBlockDevice(volume, 1, queue => disk!.Process(queue)); // served on the vCPU thread here
        var b = new T(disk, memory, new NoInterrupt());
        (VirtioNetDevice netA, T a) = Nic(memory, "a");
        var mmio = new DeviceBus("mmio");
        mmio.Register(DeviceA, T.WindowSize, a, "virtio-net a");
        mmio.Register(DeviceB, T.WindowSize, b, "virtio-blk b");
        var console = new MemoryStream();
        var serial = new Uart16550(console, new NoInterrupt());

        // Five requests of header, data, status: the last one valid.
        var blockQueue = new QueueConfig(QueueSize, 0xd000, 0xd200, 0xd400);
        var driver = new DriverQueue(memory, blockQueue);
        byte[] pattern = [.. Enumerable.Range(0, 512).Select(i => (byte)(i * 13 + 1))];
        memory.Write(Data, pattern);
        (uint Type, ulong Sector, ulong DataAddress, uint DataLength)[] requests =
        [
            (BlockRequestQueue.TypeOut, VolumeBytes / 512, Data, 512),  // the first sector past the end
            (BlockRequestQueue.TypeIn, ulong.MaxValue, Data, 512),       // sector * 512 overflows
            (BlockRequestQueue.TypeOut, 0, Data, 100),                   // not whole sectors
            (BlockRequestQueue.TypeOut, 0, DeviceB, 512),                // data in the MMIO hole: the chain is refused
            (BlockRequestQueue.TypeOut, 3, Data, 512),                   // valid
        ];
        for (int i = 0; i < requests.Length; i++)
        {
            (uint type, ulong sector, ulong address, uint length) = requests[i];
            Span<byte> header = memory.GetSpan(Headers + 16UL * (uint)i, 16);
            header.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(header, type);
            BinaryPrimitives.WriteUInt64LittleEndian(header[8..], sector);
            memory.Write(Statuses + (ulong)i, [0xaa]);
            int d = 3 * i;
            ushort dataFlags = (ushort)(DriverQueue.Next | (type == BlockRequestQueue.TypeIn ? DriverQueue.Write : 0));
            driver.Descriptor(d, Headers + 16UL * (uint)i, 16, DriverQueue.Next, (ushort)(d + 1));
            driver.Descriptor(d + 1, address, length, dataFlags, (ushort)(d + 2));
            driver.Descriptor(d + 2, Statuses + (ulong)i, 1, DriverQueue.Write);
            driver.Publish((ushort)d);
        }
        var control = new DriverQueue(memory, s_control);
        control.Descriptor(0, 0x8100, 4, DriverQueue.Next, 1);
        control.Descriptor(1, 0x8200, 1, DriverQueue.Write);
        memory.Write(0x8100, [NetControlQueue.ClassMq, NetControlQueue.MqVqPairsSet, 1, 0]);
        control.Publish(0);

        var script = new List<(int Offset, uint Value)>();
        script.AddRange(BringUp(DeviceB, VirtioFeatures.Version1 | VirtioBlockDevice.FeatureFlush, blockQueue));
        script.Add(((int)(DeviceB - DeviceA) + T.RegQueueNotify, 0));
        script.AddRange(BringUp(DeviceA, NetFeatures, s_rx, s_tx, s_control));
        script.Add((T.RegQueueNotify, 2));
        RunScript(guest, memory, script, mmio, serial);
        serial.Flush();

        Assert.Equal("K", System.Text.Encoding.ASCII.GetString(console.ToArray()));
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk, b.Status);
        byte[] statuses = memory.GetSpan(Statuses, requests.Length).ToArray();
        Assert.Equal([BlockRequestQueue.StatusIoError, BlockRequestQueue.StatusIoError, BlockRequestQueue.StatusIoError, (byte)0xaa, BlockRequestQueue.StatusOk], statuses);
        Assert.Equal(requests.Length, driver.UsedIndex);
        Assert.Equal([1u, 1u, 1u, 0u, 1u], Enumerable.Range(0, requests.Length).Select(i => driver.Used(i).Written));
        long[] outcomes = disk.Counters.Outcomes;
        Assert.Equal((1L, 2L, 1L), (outcomes[(int)BlockOutcome.Ok], outcomes[(int)BlockOutcome.OutOfRange], outcomes[(int)BlockOutcome.Unaligned]));

        // Only sector 3 changed, and the file did not grow (read once the disk let go of it).
        volume.Dispose();
        byte[] file = File.ReadAllBytes(path);
        Assert.Equal(VolumeBytes, file.Length);
        Assert.Equal(pattern, file.AsSpan(3 * 512, 512).ToArray());
        Assert.True(file.AsSpan(0, 3 * 512).IndexOfAnyExcept((byte)0x11) < 0 && file.AsSpan(4 * 512).IndexOfAnyExcept((byte)0x11) < 0,
            "a byte outside sector 3 changed");

        // The NIC next to it still answers.
        Assert.Equal(1, netA.Control!.Outcomes[(int)ControlOutcome.Ok]);
        Assert.Equal(NetControlQueue.Ok, memory.GetSpan(0x8200, 1)[0]);
    }

    /// <summary>What VcpuThread does for these exits, bounded so a guest that loops fails the test instead of hanging it.</summary>
    private static void RunToHalt(KvmVcpu vcpu, DeviceBus mmio, Uart16550 serial, int maxExits)
    {
        for (int exits = 0; exits < maxExits; exits++)
        {
            VcpuExit exit = vcpu.Run();
            switch (exit.Reason)
            {
                case KvmExitReason.Hlt:
                    return;
                case KvmExitReason.Mmio when exit.Mmio.IsWrite:
                    mmio.Write(exit.Mmio.Address, vcpu.MmioData);
                    break;
                case KvmExitReason.Mmio:
                    mmio.Read(exit.Mmio.Address, vcpu.MmioData);
                    break;
                case KvmExitReason.Io when exit.Io.IsWrite && exit.Io.Port is >= Uart16550.Com1Port and < Uart16550.Com1Port + Uart16550.RegisterCount:
                    serial.Write((ulong)(exit.Io.Port - Uart16550.Com1Port), vcpu.IoData);
                    break;
                default:
                    Assert.Fail($"unexpected exit: {exit}");
                    break;
            }
        }
        Assert.Fail($"the guest did not halt within {maxExits} exits");
    }

    private sealed class NoInterrupt : IInterruptLine, IInterruptTrigger
    {
        public void Set(bool asserted) { }
        public void Trigger() { }
    }
}
