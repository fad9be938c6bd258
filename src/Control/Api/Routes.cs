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

    public static string Member(string collection, string name) => $"{collection}/{Uri.EscapeDataString(name)}";

    /// <summary>PUT: a VM's CPU weight and cap (VmCpu), applied to the running VM.</summary>
    public const string VmCpuTemplate = Vms + "/{name}/cpu";

    public static string VmCpu(string vm) => $"{Member(Vms, vm)}/cpu";
}
