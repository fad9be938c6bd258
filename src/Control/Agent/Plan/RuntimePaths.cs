// Where the agent's generated files and the daemons' sockets live, all under the host's runtime
// directory (/run/vswitch: a tmpfs, so nothing stale survives a reboot). One place decides every
// path, so the vswitchd config and each vmm spec name the same vhost-user socket for a NIC.
//
//   {root}/vswitchd.yaml          vswitchd's configuration (VswitchdPlan)
//   {root}/vswitchd.sock          vswitchd's control socket
//   {root}/vhost/{vm}.nic{i}.sock a NIC's vhost-user socket (vmm listens, vswitchd connects)
//   {root}/vmm/{vm}.json          a VM's vmm spec (VmmPlan)
//   {root}/vmm/{vm}.sock          a VM's vmm API socket
namespace VSwitch.Control.Agent.Plan;

public sealed record RuntimePaths(string Root)
{
    /// <summary>sockaddr_un's sun_path is 108 bytes with its terminating NUL (unix(7)).</summary>
    public const int MaxSocketPath = 107;

    private const string SocketExtension = ".sock";

    /// <summary>The longest socket file name: a NIC's, whose name is at most PlanNames.MaxDaemonName.</summary>
    private static readonly int LongestSocketTail = Path.Join("vhost", new string('x', PlanNames.MaxDaemonName) + SocketExtension).Length + 1;

    /// <summary>The longest root whose every socket path fits sun_path.</summary>
    public static int MaxRootLength => MaxSocketPath - LongestSocketTail;

    public string VswitchdConfig => Path.Join(Root, "vswitchd.yaml");
    public string ControlSocket => Path.Join(Root, "vswitchd" + SocketExtension);

    /// <summary>vswitchd's control.vhost_dir: the agent's ports added at run time have their sockets here.</summary>
    public string VhostDirectory => Path.Join(Root, "vhost");
    public string NicSocket(string vm, int index) => Path.Join(VhostDirectory, PlanNames.Nic(vm, index) + SocketExtension);

    public string VmmDirectory => Path.Join(Root, "vmm");
    public string VmmSpec(string vm) => Path.Join(VmmDirectory, PlanNames.Daemon(vm) + ".json");
    public string ApiSocket(string vm) => Path.Join(VmmDirectory, PlanNames.Daemon(vm) + SocketExtension);
}
