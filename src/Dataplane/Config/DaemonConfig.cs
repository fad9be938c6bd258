// What vswitchd runs with: the DPDK environment, its worker threads, where it listens for
// control, and the switch itself. Read once at start (ConfigLoader); afterwards only the switch
// spec changes, through the control socket.
using VSwitch.Common.Sockets;
using VSwitch.Dataplane.Ports;
using VSwitch.Dataplane.Spec;

namespace VSwitch.Dataplane.Config;

public sealed record DaemonConfig
{
    public const string DefaultPmdDir = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0";

    public const int DefaultMbufs = 8191;
    public const int MinMbufs = 1023;
    public const int MaxMbufs = 1_048_575;

    /// <summary>EAL's main lcore is the first of -l, normally 0, and runs the control side; workers poll on others.</summary>
    public const int DefaultWorkerCore = 1;
    public const int MaxWorkerCores = 16;
    public const int MaxCoreId = 1023;

    /// <summary>0 keeps workers spinning; the cap (100 ms) bounds how late an idle worker sees a burst.</summary>
    public const int MaxIdleSleepMicroseconds = 100_000;

    /// <summary>Arguments for rte_eal_init, without the program name and without --vdev (vswitchd adds one per port).</summary>
    public required IReadOnlyList<string> EalArgs { get; init; }

    /// <summary>Where EAL loads poll-mode drivers from.</summary>
    public string PmdDir { get; init; } = DefaultPmdDir;

    /// <summary>Mbufs in the packet pool shared by all ports.</summary>
    public int Mbufs { get; init; } = DefaultMbufs;

    /// <summary>One polling worker per listed lcore.</summary>
    public IReadOnlyList<int> WorkerCores { get; init; } = [DefaultWorkerCore];

    /// <summary>How long a worker sleeps after a burst that found no packets.</summary>
    public int IdleSleepMicroseconds { get; init; }

    /// <summary>Unix socket path for the control protocol; null: no control socket.</summary>
    public string? ControlSocket { get; init; }

    /// <summary>Who may use the control socket, how many at once, and for how long.</summary>
    public ConnectionLimits ControlLimits { get; init; } = ConnectionLimits.Default;

    /// <summary>What devargs a port added over the control socket may have.</summary>
    public RuntimePortPolicy RuntimePorts { get; init; } = RuntimePortPolicy.Default;

    /// <summary>Per-flow accounting in the workers, and how much of it the control side reports.</summary>
    public FlowSettings Flows { get; init; } = FlowSettings.Default;

    /// <summary>Where /metrics is served over HTTP; null (the default): not at all.</summary>
    public ListenAddress? MetricsListen { get; init; }

    public required SwitchSpec Spec { get; init; }
}

/// <param name="Enabled">Whether workers count flows at all (off: their loops are compiled without it).</param>
/// <param name="TableSize">Flows each worker's table holds, rounded up to a power of two.</param>
/// <param name="Top">The largest flows per tenant that the flows report and /metrics name one by one; the rest are aggregated per tenant.</param>
/// <param name="SampleRate">One frame in this many is counted on its flow (tenants' totals count every frame); 1: every frame, exactly.</param>
public sealed record FlowSettings(bool Enabled, int TableSize, int Top, int SampleRate = FlowSettings.DefaultSampleRate)
{
    public const int DefaultSampleRate = 1;
    public const int MaxSampleRate = 65536;
    public const int DefaultTableSize = 4096;
    public const int MinTableSize = 64;
    public const int MaxTableSize = 1 << 20;
    public const int DefaultTop = 10;
    public const int MaxTop = 1000;

    /// <summary>Off until its cost fits the budget of docs/flows.md ("Cost"): on, it takes a large share of the L2 rate today.</summary>
    public static readonly FlowSettings Default = new(false, DefaultTableSize, DefaultTop);
}

/// <summary>An IP address (in its canonical text) and a TCP port to listen on.</summary>
public sealed record ListenAddress(string Address, int Port)
{
    public System.Net.IPEndPoint ToEndPoint() => new(System.Net.IPAddress.Parse(Address), Port);

    public override string ToString() => ToEndPoint().ToString();
}
