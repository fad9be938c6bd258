// What the agent's unit tests share: a folder with a kernel and an initramfs file for VMs to
// name, a host with room to spare, and resources that pass every rule, which a test changes in
// the one field it is about.
using System.Net;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent;

public sealed class AgentFixture : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("vswitch-agent-").FullName;
    public string Kernel => Path.Combine(Folder, "bzImage");
    public string Initramfs => Path.Combine(Folder, "initramfs.cpio");

    /// <summary>8 CPUs × 4, 64 GiB.</summary>
    public static HostResources Host { get; } = new(8, 64 * 1024, 4.0);

    public AgentFixture()
    {
        File.WriteAllText(Kernel, "kernel");
        File.WriteAllText(Initramfs, "initramfs");
    }

    public Vm Vm(string name = "web-1", string tenant = "blue", string mac = "02:00:00:00:00:01", string ip = "10.0.0.1", params string[] volumes) =>
        new(name, tenant, Vcpus: 2, MemoryMib: 1024, Kernel, Initramfs, Nics: [new Nic(mac, [ip])], Volumes: volumes);

    /// <summary>Tenant "blue" (VNI 100), volumes "disk-a" and "disk-b", remote host "east".</summary>
    public static DesiredState Seeded() => new(
        [new Tenant("blue", 100)], [], [new Volume("disk-a", 1024), new Volume("disk-b", 2048)], [new RemoteHost("east", "192.0.2.10")], []);

    /// <summary>A remote VM of "blue" on "east" that passes every rule against Seeded().</summary>
    public static RemoteVm RemoteVm(string name = "db-1", string tenant = "blue", string host = "east", string mac = "02:00:00:00:00:11", params string[] ipv4) =>
        new(name, tenant, host, mac, ipv4.Length == 0 ? ["10.0.0.11"] : ipv4);

    /// <summary>The refusal <paramref name="action"/> throws, checked for its status and field; the message starts with the field.</summary>
    public static Refusal Refused(HttpStatusCode status, string field, Action action)
    {
        Refusal refusal = Assert.Throws<Refusal>(action);
        Assert.Equal((status, field), (refusal.Status, refusal.Field));
        Assert.StartsWith($"{field}: ", refusal.Message);
        Assert.Equal(new ApiError(refusal.Message, field), refusal.Body);
        return refusal;
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
