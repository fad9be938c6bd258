// The vmm program's command line (docs/vmm.md): `vmm run` boots one VM and lives as long as it
// does; `vmm ctl` sends one request to a running VMM's API socket; `vmm kvm-info` reports what
// /dev/kvm offers; `vmm volume` manages volume pools (Cli/VolumeCommands.cs). Exit codes: Machine/StopReason.cs ExitCodes.
using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using VSwitch.Common.Cgroups;
using VSwitch.Common.Cli;
using VSwitch.Common.Control;
using VSwitch.Vmm.Api;
using VSwitch.Vmm.Boot;
using VSwitch.Vmm.Cpu;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;
using VSwitch.Vmm.Devices.Serial;
using VSwitch.Vmm.Machine;
using VSwitch.Vmm.Spec;

namespace VSwitch.Vmm.Cli;

public static class VmmCommandLine
{
    private const int ErrnoNoEntry = 2;
    private const int ErrnoAccess = 13;

    private static readonly TimeSpan s_ctlTimeout = TimeSpan.FromSeconds(10);

    private static readonly ControlCommand s_ctl = new(new ControlTarget(
        Program: "vmm",
        Daemon: "the VMM",
        Ops: "state pause resume stop shutdown stats metrics (docs/vmm.md, \"API\")",
        SocketEnvironmentVariable: null,
        DefaultSocketPath: null,
        DefaultTimeout: s_ctlTimeout,
        RequestTimeout: StopReplyTimeout));

    /// <summary>Parses the words after "ctl" as the command line does.</summary>
    /// <exception cref="ControlCommand.UsageException">The arguments do not make a request.</exception>
    internal static ControlCommand.Invocation ParseCtl(IReadOnlyList<string> args) => s_ctl.Parse(args, null);

    /// <summary>A stop's reply comes when the VM has stopped: up to its timeout_s, and then the usual wait.</summary>
    private static TimeSpan? StopReplyTimeout(JsonObject request)
    {
        if (request["op"] is not JsonValue op || !op.TryGetValue(out string? name) || name != "stop")
            return null;
        try
        {
            return ApiServer.StopTimeout(request) + s_ctlTimeout;
        }
        catch (ControlException)
        {
            return null; // refused at once, naming the field
        }
    }

    /// <summary>Runs the program with <paramref name="args"/>; messages go to the writers, guest serial output to the process's stdout or a file.</summary>
    public static int Invoke(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var spec = new Option<string>("--spec") { Description = "VM spec file (JSON; docs/vmm.md). Options given as well override its fields." };
        var kernel = new Option<string>("--kernel") { Description = "bzImage kernel to boot" };
        var initramfs = new Option<string>("--initramfs") { Description = "initramfs (cpio, optionally compressed)" };
        var cmdline = new Option<string>("--cmdline") { Description = $"kernel command line (default \"{MachineConfig.DefaultCommandLine}\")" };
        var memory = new Option<int?>("--memory-mib") { Description = $"guest RAM in MiB (default {MachineConfig.DefaultMemoryMib})" };
        var vcpus = new Option<int?>("--vcpus") { Description = "number of vCPUs (default 1)" };
        var hugepages = new Option<bool>("--hugepages") { Description = "back guest RAM with 2 MiB huge pages (needs vm.nr_hugepages)" };
        var serialLog = new Option<string>("--serial-log") { Description = "write the guest's serial console to this file" };
        var serial = new Option<string>("--serial") { Description = "serial console output: stdout (default), none" };
        var apiSocket = new Option<string>("--api-socket") { Description = "serve the JSON API on this Unix socket" };
        var cgroup = new Option<string>("--cgroup") { Description = "a cgroup v2 group (directory) to move this process into before the VM starts" };
        var debug = new Option<bool>("--debug") { Description = "log unclaimed port and MMIO accesses, and every vCPU's registers at the end, to stderr" };

        var run = new Command("run", "Boot a Linux kernel in a new VM; ends when the VM does")
        {
            spec, kernel, initramfs, cmdline, memory, vcpus, hugepages, serialLog, serial, apiSocket, cgroup, debug,
        };
        run.SetAction(parse =>
        {
            VmSpec fromOptions = new()
            {
                Kernel = Full(parse.GetValue(kernel)),
                Initramfs = Full(parse.GetValue(initramfs)),
                Cmdline = parse.GetValue(cmdline),
                MemoryMib = parse.GetValue(memory),
                Vcpus = parse.GetValue(vcpus),
                HugePages = parse.GetValue(hugepages) ? true : null,
                ApiSocket = Full(parse.GetValue(apiSocket)),
                Cgroup = Full(parse.GetValue(cgroup)),
            };
            return Run(parse.GetValue(spec), fromOptions, parse.GetValue(serial), Full(parse.GetValue(serialLog)),
                parse.GetValue(debug), stderr);
        });

        var kvmInfo = new Command("kvm-info", "Show the KVM API version and the capabilities the VMM uses");
        kvmInfo.SetAction(_ => KvmInfo(stdout, stderr));

        var root = new RootCommand("vmm: one KVM virtual machine monitor process per VM")
        {
            run, s_ctl.CreateCommand(stdout, stderr), kvmInfo, VolumeCommands.Create(stdout, stderr),
        };
        return CommandLines.Invoke("vmm", root, args, stdout, stderr);
    }

    private static string? Full(string? path) => path is null ? null : Path.GetFullPath(path);

    private static int Run(string? specPath, VmSpec options, string? serialMode, string? serialLog, bool debug, TextWriter stderr)
    {
        MachineConfig config;
        BootImage? kernelImage = null, initramfsImage = null;
        try
        {
            config = Configure(specPath, options, serialMode, serialLog);
            ThrowIfApiSocketInUse(config.ApiSocket);
            kernelImage = OpenInput(config.KernelPath, "kernel");
            // Before KVM: an unbootable file is the user's error on any host.
            BzImage.Parse(kernelImage.ReadHead(BzImage.MaxSetupBytes), kernelImage.Length);
            initramfsImage = config.InitramfsPath is null ? null : OpenInput(config.InitramfsPath, "initramfs");
            // Before the VM's threads exist: a vCPU never runs outside the group its host gave it.
            if (config.Cgroup is { } group)
                Cgroup.Join(group);
        }
        catch (CgroupException e)
        {
            kernelImage?.Dispose();
            initramfsImage?.Dispose();
            stderr.WriteLine($"vmm: cgroup: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (VmSpecException e)
        {
            kernelImage?.Dispose();
            stderr.WriteLine($"vmm: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (LinuxBootException e)
        {
            kernelImage?.Dispose();
            stderr.WriteLine($"vmm: {options.Kernel ?? "kernel"}: {e.Message}");
            return ExitCodes.BadInput;
        }
        using (kernelImage)
        using (initramfsImage)
            return Boot(config, kernelImage, initramfsImage, debug, stderr);
    }

    /// <summary>Opens KVM, builds the VM with the boot images and runs it to its end.</summary>
    private static int Boot(MachineConfig config, BootImage kernelImage, BootImage? initramfsImage, bool debug, TextWriter stderr)
    {
        KvmSystem kvm;
        try
        {
            kvm = KvmSystem.Open();
        }
        catch (KvmException e)
        {
            stderr.WriteLine($"vmm: {NoKvmMessage(e)}");
            return ExitCodes.NoKvm;
        }
        // A warning, not a refusal: a kernel built as a PVM guest does run there.
        if (KvmSystem.Module() == "kvm_pvm")
        {
            stderr.WriteLine($"vmm: warning: {KvmSystem.DevicePath} is PVM (kvm_pvm), which runs only kernels built as PVM guests; " +
                "a stock kernel never reaches its init on it. Run on a host with kvm_amd or kvm_intel, or inside tests/kvm/sandbox");
        }

        Stream serialOutput;
        try
        {
            serialOutput = config.Serial switch
            {
                SerialOutputKind.File => new FileStream(config.SerialPath!, FileMode.Create, FileAccess.Write, FileShare.Read),
                SerialOutputKind.None => Stream.Null,
                _ => new BufferedStream(Console.OpenStandardOutput()),
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            kvm.Dispose();
            stderr.WriteLine($"vmm: --serial-log: cannot create {config.SerialPath}: {e.Message}");
            return ExitCodes.BadInput;
        }

        using (serialOutput)
        {
            VirtualMachine machine;
            try
            {
                // Device events (a backend connecting or going away, a device the guest broke) are
                // always worth a line; the bus's first-touch lines only with --debug.
                machine = VirtualMachine.Create(kvm, config, kernelImage, initramfsImage, serialOutput,
                    debug ? line => stderr.WriteLine($"vmm: {line}") : null, line => stderr.WriteLine($"vmm: {line}"));
            }
            catch (LinuxBootException e)
            {
                stderr.WriteLine($"vmm: {e.Message}");
                return ExitCodes.BadInput;
            }
            catch (KvmException e)
            {
                stderr.WriteLine($"vmm: setting up the VM failed: {e.Message}");
                return ExitCodes.VmmError;
            }
            using (machine)
                return RunToEnd(machine, config, debug, stderr);
        }
    }

    private static int RunToEnd(VirtualMachine machine, MachineConfig config, bool debug, TextWriter stderr)
    {
        ApiServer? api = null;
        if (config.ApiSocket is not null)
        {
            try
            {
                api = ApiServer.Start(machine, config.ApiSocket);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"vmm: --api-socket: cannot listen on {config.ApiSocket}: {e.Message}");
                return ExitCodes.BadInput;
            }
        }
        // SIGTERM and SIGINT stop the VM as the API's stop does: the power button, and the power
        // cord after GracefulStop.DefaultTimeout; what a service manager that sends SIGTERM, and
        // SIGKILL some time later, expects. A second signal pulls the cord at once.
        int signals = 0;
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            string name = context.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT";
            if (Interlocked.Increment(ref signals) > 1)
            {
                stderr.WriteLine($"vmm: {name} again: stopping the VM now");
                machine.RequestStop(new VmOutcome(StopReason.Shutdown));
                return;
            }
            stderr.WriteLine($"vmm: {name}: pressing the power button; the guest has {GracefulStop.DefaultTimeout.TotalSeconds:0} s " +
                "to power off before the VM is stopped hard (a second signal stops it now)");
            _ = StopOnSignalAsync(machine);
        }

        // stdin is the console's input: what is typed (or piped) reaches the guest's ttyS0.
        using var stopInput = new CancellationTokenSource();
        if (config.Serial != SerialOutputKind.None)
            SerialInput.Start(Console.OpenStandardInput(), machine.Serial, stopInput.Token);

        var started = System.Diagnostics.Stopwatch.StartNew();
        machine.Start();
        VmOutcome outcome = machine.WaitForExit();
        stopInput.Cancel();
        api?.Dispose();
        if (outcome.Diagnostic is not null)
            stderr.WriteLine($"vmm: {outcome.Diagnostic}");
        (long reads, long writes) = machine.PortBus.Unclaimed;
        if (debug)
        {
            // Where each vCPU was when the VM stopped: for a guest that hung, where it hangs.
            foreach (string vcpu in machine.DescribeVcpus())
                stderr.WriteLine($"vmm: {vcpu}");
            foreach ((ulong port, long count) in machine.PortBus.UnclaimedByAddress.OrderByDescending(p => p.Value).Take(8))
                stderr.WriteLine($"vmm: pio: port 0x{port:x}: {count} unclaimed accesses");
        }
        stderr.WriteLine($"vmm: VM stopped: reason={ExitCodes.Name(outcome.Reason)} exit={outcome.ExitCode} " +
            $"after {started.Elapsed.TotalSeconds:F2} s ({reads} unclaimed port reads, {writes} writes)");
        stderr.WriteLine($"vmm: statistics {ApiServer.AddStatistics(new(), machine.Statistics()).ToJsonString()}");
        return outcome.ExitCode;
    }

    private static async Task StopOnSignalAsync(VirtualMachine machine)
    {
        try
        {
            if (await GracefulStop.RunAsync(machine, GracefulStop.DefaultTimeout).ConfigureAwait(false) is null)
                machine.RequestStop(new VmOutcome(StopReason.Shutdown)); // not started yet: nothing to press
        }
        catch (Exception e)
        {
            machine.RequestStop(new VmOutcome(StopReason.VmmError, $"stop: pressing the power button failed: {e.Message}"));
        }
    }

    private static MachineConfig Configure(string? specPath, VmSpec options, string? serialMode, string? serialLog)
    {
        VmSpec spec = specPath is null ? new VmSpec() : VmSpec.Load(specPath);
        string source = specPath is null ? "" : Path.GetFileName(specPath);
        if (serialMode is not null && serialLog is not null)
            throw new VmSpecException("--serial", "give --serial or --serial-log, not both");
        SerialOutputKind? serialKind = serialLog is not null ? SerialOutputKind.File
            : serialMode is null ? null
            : VmSpec.ParseSerialOutput(serialMode, "--serial") is var kind and not SerialOutputKind.File ? kind
            : throw new VmSpecException("--serial", "for a file, use --serial-log PATH");
        VmSpec merged = spec with
        {
            Kernel = options.Kernel ?? spec.Kernel,
            Initramfs = options.Initramfs ?? spec.Initramfs,
            Cmdline = options.Cmdline ?? spec.Cmdline,
            MemoryMib = options.MemoryMib ?? spec.MemoryMib,
            Vcpus = options.Vcpus ?? spec.Vcpus,
            HugePages = options.HugePages ?? spec.HugePages,
            ApiSocket = options.ApiSocket ?? spec.ApiSocket,
            Cgroup = options.Cgroup ?? spec.Cgroup,
            Serial = serialKind ?? spec.Serial,
            SerialPath = serialKind is null ? spec.SerialPath : serialLog,
        };
        // Name a bad value the way it was given: the option if there was one, else the spec field.
        return merged.ToMachineConfig(field =>
        {
            bool fromOption = field switch
            {
                "kernel" => options.Kernel is not null,
                "memory_mib" => options.MemoryMib is not null,
                "vcpus" => options.Vcpus is not null,
                "serial.path" => serialKind is not null,
                _ => false,
            };
            return fromOption || specPath is null ? $"--{field.Replace('_', '-').Replace("serial.path", "serial-log")}" : $"{source}: {field}";
        });
    }

    /// <summary>Before KVM: a socket another VMM serves is the user's error, and is left alone.</summary>
    private static void ThrowIfApiSocketInUse(string? path)
    {
        try
        {
            if (path is not null)
                ApiServer.ThrowIfInUse(path);
        }
        catch (IOException e)
        {
            throw new VmSpecException("--api-socket", e.Message);
        }
    }

    private static BootImage OpenInput(string path, string what)
    {
        try
        {
            return BootImage.Open(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmSpecException(what, $"cannot read {path}: {e.Message}");
        }
    }

    private static string NoKvmMessage(KvmException e) => e.Errno switch
    {
        ErrnoNoEntry => $"{KvmSystem.DevicePath}: No such file or directory: this host has no KVM; run on a host with " +
                        "hardware virtualisation, or inside tests/kvm/sandbox",
        ErrnoAccess => $"{KvmSystem.DevicePath}: Permission denied: add this user to the kvm group, or run as root",
        _ => e.Message,
    };

    private static int KvmInfo(TextWriter stdout, TextWriter stderr)
    {
        try
        {
            using KvmSystem kvm = KvmSystem.Open();
            stdout.WriteLine($"{KvmSystem.DevicePath}: KVM API version {kvm.ApiVersion}, kvm_run mapping {kvm.VcpuMmapSize} bytes, " +
                $"module {KvmSystem.Module() ?? "unknown"}");
            foreach (KvmCapability capability in Enum.GetValues<KvmCapability>())
                stdout.WriteLine($"  {capability,-20} {kvm.CheckExtension(capability)}");
            uint paravirt = KvmParavirtFeatures.Of(kvm.GetSupportedCpuid());
            stdout.WriteLine($"  paravirt features (CPUID 0x40000001 EAX 0x{paravirt:x8}, passed to the guest): {KvmParavirtFeatures.Describe(paravirt)}");
            return 0;
        }
        catch (KvmException e)
        {
            stderr.WriteLine($"vmm: {NoKvmMessage(e)}");
            return ExitCodes.NoKvm;
        }
    }
}
