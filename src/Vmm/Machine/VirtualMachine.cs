// One VM: KVM's VM with its in-kernel interrupt controllers and timer, guest RAM as KVM slots,
// the Linux boot image, the emulated legacy devices on the port I/O bus, and one thread per vCPU
// (Documentation/virt/kvm/api.rst 4.2 KVM_CREATE_VM ... 4.10 KVM_RUN; the order of setup calls
// is the one that section prescribes: irqchip and PIT before vCPUs, CPUID before the MSRs and
// registers that depend on it).
//
// States: Created -> Running <-> Paused -> Stopped. Stopping is one-way and records the first
// reason only (a guest that triple-faults while the API asks for shutdown stopped for one of
// them, whichever came first); every vCPU thread is then kicked out of KVM_RUN and joined, so a
// stop never hangs on a vCPU.
using VSwitch.Vmm.Acpi;
using VSwitch.Vmm.Boot;
using VSwitch.Vmm.Cpu;
using VSwitch.Vmm.Devices.AcpiPm;
using VSwitch.Vmm.Devices.Bus;
using VSwitch.Vmm.Devices.I8042;
using VSwitch.Vmm.Devices.Rtc;
using VSwitch.Vmm.Devices.Serial;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;
using VSwitch.Vmm.Volumes;
using VSwitch.Vmm.Volumes.Nbd;

namespace VSwitch.Vmm.Machine;

public sealed class VirtualMachine : IDisposable, IApiMachine
{
    // Three pages for Intel VMX's real-mode TSS and one for its identity map, just below the
    // BIOS ROM at the top of 4 GiB (QEMU's and Firecracker's addresses); AMD SVM ignores both.
    private const ulong TssAddress = 0xfffb_d000;
    private const ulong IdentityMapAddress = 0xfffb_c000;

    private readonly KvmSystem _kvm;
    private readonly KvmVm _vm;
    private readonly GuestMemory _memory;
    private readonly VcpuThread[] _vcpus;
    private readonly Uart16550 _serial;
    private readonly Stream _serialOutput;
    // A plain object, not a Lock: pausing waits on it with Monitor.Wait/PulseAll.
    private readonly object _lock = new();
    private MachineState _state = MachineState.Created;
    private VmOutcome? _outcome;
    private bool _pauseRequested;
    private int _parked;
    // Continuations run elsewhere: the guest's power-off completes it on a vCPU thread.
    private readonly TaskCompletionSource<VmOutcome> _outcomeSource = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<string>? _eventLog;
    private AcpiPmDevice? _pm;
    private readonly List<NetworkInterface> _nics = [];
    private readonly List<BlockDisk> _disks = [];

    private VirtualMachine(KvmSystem kvm, KvmVm vm, GuestMemory memory, Stream serialOutput, Action<string>? debugLog,
        Action<string>? eventLog, Func<VirtualMachine, (Uart16550, VcpuThread[])> build)
    {
        _kvm = kvm;
        _vm = vm;
        _memory = memory;
        _serialOutput = serialOutput;
        _eventLog = eventLog;
        PortBus = new DeviceBus("pio", debugLog);
        MmioBus = new DeviceBus("mmio", debugLog);
        (_serial, _vcpus) = build(this);
    }

    /// <summary>Port I/O devices; unclaimed ports read all-ones.</summary>
    public DeviceBus PortBus { get; }

    /// <summary>MMIO devices (none yet besides KVM's in-kernel IOAPIC and local APICs); unclaimed reads give all-ones.</summary>
    public DeviceBus MmioBus { get; }

    public GuestMemory Memory => _memory;

    /// <summary>COM1, for host input to the guest's console.</summary>
    public Uart16550 Serial => _serial;

    public int VcpuCount => _vcpus.Length;

    public MachineState State
    {
        get { lock (_lock) return _state; }
    }

    /// <summary>
    /// Builds the VM: boot image in memory, devices on the bus, vCPUs ready at the kernel's
    /// entry. Throws <see cref="LinuxBootException"/> for an unbootable kernel or memory size and
    /// <see cref="KvmException"/> when KVM refuses a step. Takes ownership of <paramref name="kvm"/>
    /// (disposed with the VM, or here when building fails).
    /// </summary>
    public static VirtualMachine Create(KvmSystem kvm, MachineConfig config, BootImage kernel, BootImage? initramfs, Stream serialOutput,
        Action<string>? debugLog = null, Action<string>? eventLog = null)
    {
        var disposables = new Stack<IDisposable>();
        disposables.Push(kvm);
        try
        {
            E820Map map = E820Map.ForMemorySize((ulong)config.MemoryMib << 20);
            int maxVcpus = kvm.CheckExtension(KvmCapability.MaxVcpus);
            if (config.Vcpus > maxVcpus)
                throw new LinuxBootException($"vcpus: {config.Vcpus} is more than this host's KVM allows ({maxVcpus})");
            KvmVm vm = kvm.CreateVm();
            disposables.Push(vm);
            vm.SetTssAddress(TssAddress);
            vm.SetIdentityMapAddress(IdentityMapAddress);
            vm.CreateIrqchip();
            vm.SetGsiRouting(IsaInterruptRouting.Entries());
            vm.CreatePit2();
            GuestMemory memory = GuestMemory.Create(map.RamRegions, config.HugePages);
            disposables.Push(memory);
            vm.AddMemory(memory);
            int virtioDevices = config.Nics.Count + config.Disks.Count;
            if (virtioDevices > MachineConfig.MaxVirtioDevices)
                throw new LinuxBootException($"nics, disks: {config.Nics.Count} NICs and {config.Disks.Count} disks, a VM has room for {MachineConfig.MaxVirtioDevices} virtio devices");
            // Before any device: a volume that cannot be attached is the user's error, like a bad kernel.
            var volumes = new List<IBlockVolume>();
            foreach ((DiskConfig disk, int i) in config.Disks.Select((d, i) => (d, i)))
            {
                try
                {
                    volumes.Add(disk.Open(config.Name, eventLog ?? (_ => { })));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    foreach (IBlockVolume opened in volumes)
                        opened.Dispose();
                    throw new LinuxBootException($"disks[{i}].{disk.Source.Field}: cannot attach {disk.Source.Value}: {e.Message}");
                }
            }
            foreach (IBlockVolume volume in volumes)
                disposables.Push(volume);
            BootCpuState boot = LinuxLoader.Load(memory, map, kernel, initramfs, config.CommandLine, config.Vcpus,
                [.. Enumerable.Range(0, virtioDevices).Select(VirtioSlots.AcpiDevice)]);
            KvmCpuidEntry2[] supported = kvm.GetSupportedCpuid();
            if ((KvmParavirtFeatures.Of(supported) & KvmParavirtFeatures.StealTime) == 0)
                eventLog?.Invoke("warning: KVM offers no steal time here (KVM_FEATURE_STEAL_TIME: a host kernel without CONFIG_SCHED_INFO); " +
                    "the guest cannot tell how long its vCPUs waited for a host CPU");

            var machine = new VirtualMachine(kvm, vm, memory, serialOutput, debugLog, eventLog, self =>
            {
                var serial = new Uart16550(serialOutput, new GsiLine(vm, Uart16550.Com1Irq));
                self.PortBus.Register(Uart16550.Com1Port, Uart16550.RegisterCount, serial, "serial (COM1)");
                self.PortBus.Register(CmosRtc.BasePort, CmosRtc.PortCount, new CmosRtc(), "CMOS RTC");
                self.PortBus.Register(I8042Controller.BasePort, I8042Controller.PortCount,
                    new I8042Controller(() => self.RequestStop(new VmOutcome(StopReason.Reset))), "i8042");
                var pm = new AcpiPmDevice(AcpiPorts.SleepTypeS5, AcpiPorts.ResetValue, new GsiLine(vm, AcpiPorts.SciInterrupt), request =>
                    self.RequestStop(new VmOutcome(request == AcpiPmRequest.PowerOff ? StopReason.PowerOff : StopReason.Reset)));
                self._pm = pm;
                self.PortBus.Register(AcpiPorts.Pm1aEvent, AcpiPorts.Pm1EventLength, pm.EventBlock, "ACPI PM1a event");
                self.PortBus.Register(AcpiPorts.Pm1aControl, AcpiPorts.Pm1ControlLength, pm.ControlBlock, "ACPI PM1a control");
                self.PortBus.Register(AcpiPorts.ResetRegister, 1, pm.ResetRegister, "ACPI reset register");
                for (int slot = 0; slot < config.Nics.Count; slot++)
                {
                    NetworkInterface nic = NetworkInterface.Attach(vm, memory, self.MmioBus, slot, config.Nics[slot], eventLog);
                    disposables.Push(nic);
                    self._nics.Add(nic);
                }
                for (int i = 0; i < config.Disks.Count; i++)
                {
                    // The disk owns its volume from here on.
                    BlockDisk disk = BlockDisk.Attach(vm, memory, self.MmioBus, config.Nics.Count + i, volumes[i], config.Disks[i].Queues, eventLog);
                    disposables.Push(disk);
                    self._disks.Add(disk);
                }

                var vcpus = new VcpuThread[config.Vcpus];
                for (int i = 0; i < vcpus.Length; i++)
                {
                    KvmVcpu vcpu = vm.CreateVcpu((uint)i);
                    vcpus[i] = new VcpuThread(self, vcpu);
                    vcpu.SetCpuid(CpuidTopology.ForVcpu(supported, i, config.Vcpus));
                    VcpuResetState.Apply(vcpu);
                    if (i == 0)
                    {
                        // Only the boot CPU starts at the kernel's entry; the others wait in the
                        // in-kernel LAPIC for the INIT/SIPI the kernel sends them.
                        KvmSregs sregs = vcpu.GetSpecialRegisters();
                        boot.ApplyTo(ref sregs);
                        vcpu.SetSpecialRegisters(sregs);
                        vcpu.SetRegisters(boot.Registers);
                    }
                }
                return (serial, vcpus);
            });
            return machine;
        }
        catch
        {
            while (disposables.Count > 0)
                disposables.Pop().Dispose();
            throw;
        }
    }

    /// <summary>The exits so far, per vCPU and per NIC; safe to call while the VM runs.</summary>
    public VmStatistics Statistics() =>
        new([.. _vcpus.Select(vcpu => vcpu.Exits)], [.. _nics.Select(nic => nic.Transport.Exits)],
            [.. _disks.Select(disk => new DiskStatistics(disk.Device.Volume.Id, disk.Device.Counters, disk.Transport.Exits,
                disk.Device.Volume is NbdVolume nbd ? new NetworkVolumeStatistics(nbd.Reconnects, nbd.Retries) : null))])
        {
            VcpuRunTime = [.. _vcpus.Select(vcpu => vcpu.RunTime)],
            VcpuSteal = [.. _vcpus.Select(vcpu => vcpu.Steal)],
            Serial = (_serial.Transmitted, _serial.Received),
        };

    /// <summary>Starts one thread per vCPU.</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_state != MachineState.Created)
                throw new InvalidOperationException($"the VM is {_state}, not created");
            _state = MachineState.Running;
        }
        foreach (VcpuThread vcpu in _vcpus)
            vcpu.Start();
    }

    /// <summary>
    /// Stops every vCPU outside KVM_RUN and keeps them there; returns false when the VM is not
    /// running (stopped, or not started). Waits until each vCPU thread is parked.
    /// </summary>
    public bool Pause()
    {
        lock (_lock)
        {
            if (_state == MachineState.Paused)
                return true;
            if (_state != MachineState.Running)
                return false;
            _pauseRequested = true;
        }
        var waited = System.Diagnostics.Stopwatch.StartNew();
        lock (_lock)
        {
            while (_parked < _vcpus.Length && _outcome is null)
            {
                if (waited.Elapsed > PauseLimit)
                {
                    // A vCPU that does not leave KVM_RUN: report it rather than hang the API.
                    _pauseRequested = false;
                    Monitor.PulseAll(_lock);
                    return false;
                }
                // Kick (again) outside the lock; a kick is cheap, and kicking on every round
                // makes the pause independent of whether an earlier kick raced the thread's exit.
                Monitor.Exit(_lock);
                try
                {
                    foreach (VcpuThread vcpu in _vcpus)
                        vcpu.Kick();
                }
                finally
                {
                    Monitor.Enter(_lock);
                }
                Monitor.Wait(_lock, KickInterval);
            }
            if (_outcome is not null)
                return false;
            _state = MachineState.Paused;
            _serial.Flush();
            return true;
        }
    }

    // How long Pause waits for every vCPU to park, and how often it kicks them meanwhile.
    private static readonly TimeSpan PauseLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan KickInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Lets paused vCPUs run again; false when the VM is not paused.</summary>
    public bool Resume()
    {
        lock (_lock)
        {
            if (_state == MachineState.Running)
                return true;
            if (_state != MachineState.Paused)
                return false;
            _pauseRequested = false;
            _state = MachineState.Running;
            Monitor.PulseAll(_lock);
            return true;
        }
    }

    /// <summary>
    /// Presses the ACPI power button (Devices/AcpiPm); false when the VM is not running. Whether
    /// the guest powers off is up to it: <see cref="Outcome"/> says when the VM ends, and why.
    /// </summary>
    public bool PressPowerButton()
    {
        lock (_lock)
        {
            if (_state != MachineState.Running || _outcome is not null)
                return false;
        }
        bool heard = _pm!.PressPowerButton();
        _eventLog?.Invoke(heard ? "ACPI power button pressed"
            : "ACPI power button pressed, but the guest has not enabled its event (PWRBTN_EN is 0: no ACPI button driver?); it will not see the press");
        return true;
    }

    /// <summary>Completes, with the first stop request's outcome, when the VM is asked to stop; the vCPUs may still be leaving.</summary>
    public Task<VmOutcome> Outcome => _outcomeSource.Task;

    /// <summary>
    /// Ends the VM for <paramref name="outcome"/> (the first request wins). Callable from any
    /// thread, vCPU threads included; returns at once, <see cref="WaitForExit"/> joins.
    /// </summary>
    public void RequestStop(VmOutcome outcome)
    {
        lock (_lock)
        {
            if (_outcome is not null)
                return;
            _outcome = outcome;
            Monitor.PulseAll(_lock);
        }
        foreach (VcpuThread vcpu in _vcpus)
            vcpu.Kick();
        _outcomeSource.SetResult(outcome);
    }

    /// <summary>Waits for a stop request, then for every vCPU thread to end; returns why the VM stopped.</summary>
    public VmOutcome WaitForExit()
    {
        _outcomeSource.Task.Wait();
        foreach (VcpuThread vcpu in _vcpus)
        {
            // A vCPU stuck in a device or in KVM_RUN despite the kick: kick again until it leaves.
            while (!vcpu.Join(TimeSpan.FromSeconds(1)))
                vcpu.Kick();
        }
        lock (_lock)
            _state = MachineState.Stopped;
        _serialOutput.Flush();
        return _outcome!;
    }

    /// <summary>
    /// Every vCPU's registers and MP state, for finding where a guest hung; only after
    /// <see cref="WaitForExit"/> (the vCPU threads are gone, so their ioctls cannot race).
    /// </summary>
    public IEnumerable<string> DescribeVcpus()
    {
        if (State != MachineState.Stopped)
            throw new InvalidOperationException("vCPU state is read once the vCPU threads have ended");
        foreach (VcpuThread vcpu in _vcpus)
            yield return $"{VcpuDiagnostics.Describe(vcpu.Vcpu, new VcpuExit(KvmExitReason.Intr))}\n  MP state {vcpu.Vcpu.GetMpState()}";
    }

    internal bool StopRequested
    {
        get { lock (_lock) return _outcome is not null; }
    }

    /// <summary>Called by a vCPU thread between KVM_RUNs: returns false when it must end.</summary>
    internal bool WaitWhilePaused()
    {
        lock (_lock)
        {
            if (_outcome is not null)
                return false;
            if (!_pauseRequested)
                return true;
            _parked++;
            Monitor.PulseAll(_lock);
            while (_pauseRequested && _outcome is null)
                Monitor.Wait(_lock);
            _parked--;
            return _outcome is null;
        }
    }

    public void Dispose()
    {
        foreach (VcpuThread vcpu in _vcpus)
            vcpu.Dispose();
        foreach (NetworkInterface nic in _nics)
            nic.Dispose();
        foreach (BlockDisk disk in _disks)
            disk.Dispose();
        _vm.Dispose();
        _memory.Dispose();
        _kvm.Dispose();
    }
}

/// <summary>An ISA interrupt line wired to a GSI of the in-kernel PIC/IOAPIC.</summary>
internal sealed class GsiLine(KvmVm vm, uint gsi) : IInterruptLine
{
    public void Set(bool asserted) => vm.SetIrqLine(gsi, asserted);
}
