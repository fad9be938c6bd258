// The agent's routes (docs/agent.md, "API"). Collections answer GET (list) and POST (create);
// members GET (show) and DELETE. A create returns 201 with the resource as stored.
namespace VSwitch.Control.Api;

public static class Routes
{
    public const string Tenants = "/v1/tenants";
    public const string Vms = "/v1/vms";
    public const string Volumes = "/v1/volumes";
    public const string Hosts = "/v1/hosts";
    public const string RemoteVms = "/v1/remote-vms";
    public const string Capacity = "/v1/capacity";
    /// <summary>GET: the supervised children and whether vswitchd serves the desired state (AgentStatus).</summary>
    public const string Status = "/v1/status";
    public const string OpenApi = "/openapi/v1.json";
    /// <summary>GET: Prometheus's text format: every running VM's vmm metrics and the agent's view of the host (docs/agent.md, "Metrics").</summary>
    public const string Metrics = "/metrics";

    public static string Member(string collection, string name) => $"{collection}/{Uri.EscapeDataString(name)}";

    /// <summary>PUT: a VM's CPU weight and cap (VmCpu), applied to the running VM.</summary>
    public const string VmCpuTemplate = Vms + "/{name}/cpu";

    public static string VmCpu(string vm) => $"{Member(Vms, vm)}/cpu";

    /// <summary>PUT: a VM's power state (VmPower): start, stop, pause, resume.</summary>
    public const string VmPowerTemplate = Vms + "/{name}/power";

    public static string VmPower(string vm) => $"{Member(Vms, vm)}/power";
}
