// The VMs' side of a reconcile pass on a real volume pool in a temporary folder: PoolVolumes
// makes and attaches the desired volumes (and keeps data it did not make), and VmmChildren
// writes each VM's spec and names one `vmm run --spec` child per VM, keeping a running VM's child
// through a problem of the moment.
using VSwitch.Control.Agent.Plan;
using VSwitch.Control.Agent.Reconcile;
using VSwitch.Control.Agent.Supervision;
using VSwitch.Control.Agent.Validation;
using VSwitch.Control.Api;
using VSwitch.Vmm.Volumes.Pool;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Reconcile;

public sealed class VmmChildrenTests : IDisposable
{
    private const string Vmm = "/usr/bin/vmm";
    private readonly string _folder = Directory.CreateTempSubdirectory("vsw-vmmchildren-").FullName;

    private string PoolFolder => Path.Combine(_folder, "pool");
    // No cgroups: this host may have none of v2 (VmCgroupsTests and the KVM lane cover them).
    private HostSettings Host => new(Path.Combine(_folder, "run")) { Vmm = new VmmSettings(PoolFolder, Cgroup: null) };
    private ReconcileSettings Settings => new(Host, "/usr/bin/vswitchd", "/log", "/supervisor", Vmm);

    private static Vm Web(string name = "web", string[]? volumes = null, int memory = 256) =>
        new(name, "red", 1, memory, "/images/bzImage", Volumes: volumes ?? ["web-root"], Nics: [new Nic("02:00:00:00:00:01", ["10.0.0.5"])]);

    private static DesiredState StateOf(Vm[] vms, params Volume[] volumes) => new([new Tenant("red", 100)], vms, volumes, [], []);

    public VmmChildrenTests()
    {
        using VolumePool pool = VolumePool.Create(PoolFolder, 64 << 20);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private PoolVolumeInfo? PoolVolume(string name)
    {
        using VolumePool pool = VolumePool.Open(PoolFolder);
        return pool.State.Find(name);
    }

    [Fact]
    public void A_vm_gets_its_volume_made_and_attached_its_spec_written_and_one_vmm_child()
    {
        var children = new VmmChildren(Settings, Vmm);
        (IReadOnlyList<ChildSpec> specs, IReadOnlyList<string> problems) = children.Plan(StateOf([Web()], new Volume("web-root", 8, "web")));

        Assert.Empty(problems);
        ChildSpec child = Assert.Single(specs);
        Assert.Equal(("vmm-web", Vmm), (child.Name, child.Executable));
        Assert.Equal(["run", "--spec", Host.Paths.VmmSpec("web")], child.Arguments);
        Assert.Equal(VmmPlan.Compile(Web(), StateOf([Web()], new Volume("web-root", 8, "web")), Host), File.ReadAllText(Host.Paths.VmmSpec("web")));
        PoolVolumeInfo volume = PoolVolume("web-root")!;
        Assert.Equal(8L << 20, volume.SizeBytes);
        Assert.Equal([("web", false)], volume.Attachments);
    }

    [Fact]
    public void A_stopped_vm_keeps_its_volume_and_spec_but_has_no_vmm_child_until_it_is_started()
    {
        var children = new VmmChildren(Settings, Vmm);
        var volume = new Volume("web-root", 8, "web");
        Assert.Single(children.Plan(StateOf([Web()], volume)).Children);

        (IReadOnlyList<ChildSpec> stopped, IReadOnlyList<string> problems) = children.Plan(StateOf([Web() with { Power = PowerStates.Stopped }], volume));
        Assert.Empty(stopped);
        Assert.Empty(problems);
        Assert.True(File.Exists(Host.Paths.VmmSpec("web")), "a stopped VM's spec stays, for its start");
        Assert.Equal([("web", false)], PoolVolume("web-root")!.Attachments);

        Assert.Equal("vmm-web", Assert.Single(children.Plan(StateOf([Web() with { Power = PowerStates.Paused }], volume)).Children).Name);
    }

    [Fact]
    public void An_existing_pool_volume_is_kept_with_its_data_grown_and_handed_from_its_importer_to_the_vm()
    {
        using (VolumePool pool = VolumePool.Open(PoolFolder))
        {
            pool.CreateVolume("web-root", 4 << 20);
            pool.Attach("web-root", "importer", readOnly: false);
            using PoolVolume written = pool.OpenVolume("web-root", "importer", readOnly: false);
            written.Write(0, Enumerable.Repeat((byte)0x5a, 4096).ToArray());
            written.Flush();
        }
        var children = new VmmChildren(Settings, Vmm);
        Assert.Empty(children.Plan(StateOf([Web()], new Volume("web-root", 8, "web"))).Problems);

        using VolumePool reopened = VolumePool.Open(PoolFolder);
        PoolVolumeInfo volume = reopened.State.Find("web-root")!;
        Assert.Equal((8L << 20, 1), (volume.SizeBytes, volume.MappedExtents));
        Assert.Equal([("web", false)], volume.Attachments);
        using PoolVolume read = reopened.OpenVolume("web-root", "web", readOnly: true);
        byte[] back = new byte[4096];
        read.Read(0, back);
        Assert.All(back, b => Assert.Equal(0x5a, b));
    }

    [Fact]
    public void A_vm_whose_volume_cannot_be_made_is_not_started_and_the_problem_names_it()
    {
        var noPool = new VmmChildren(Settings with { Host = Host with { Vmm = new VmmSettings(Path.Combine(_folder, "missing")) } }, Vmm);
        (IReadOnlyList<ChildSpec> specs, IReadOnlyList<string> problems) = noPool.Plan(StateOf([Web("db", ["db-root"])], new Volume("db-root", 8, "db")));
        Assert.Empty(specs);
        string problem = Assert.Single(problems);
        Assert.StartsWith("VM 'db': volume pool ", problem);
        Assert.Contains("vmm volume init", problem);
        Assert.EndsWith("(not started)", problem);
    }

    [Fact]
    public void A_running_vm_keeps_its_child_through_a_pool_problem_and_a_new_agent_finds_it_by_its_spec_file()
    {
        DesiredState state = StateOf([Web()], new Volume("web-root", 8, "web"));
        ChildSpec before = Assert.Single(new VmmChildren(Settings, Vmm).Plan(state).Children);

        // The pool goes away (unmounted, say) and a new agent starts: the VM's vmm, adopted, keeps
        // the spec it runs with rather than being stopped.
        Directory.Move(PoolFolder, PoolFolder + ".away");
        (IReadOnlyList<ChildSpec> specs, IReadOnlyList<string> problems) = new VmmChildren(Settings, Vmm).Plan(state);
        Assert.Equal(before, Assert.Single(specs));
        Assert.EndsWith("(its vmm keeps running as it was)", Assert.Single(problems));
    }

    [Fact]
    public void A_changed_vm_changes_its_childs_spec_and_a_deleted_one_loses_child_and_spec_file()
    {
        var children = new VmmChildren(Settings, Vmm);
        ChildSpec small = Assert.Single(children.Plan(StateOf([Web()], new Volume("web-root", 8, "web"))).Children);
        ChildSpec large = Assert.Single(children.Plan(StateOf([Web(memory: 512)], new Volume("web-root", 8, "web"))).Children);
        Assert.NotEqual(small, large);
        Assert.Equal(small.Arguments, large.Arguments);

        (IReadOnlyList<ChildSpec> specs, IReadOnlyList<string> problems) = children.Plan(StateOf([], new Volume("web-root", 8)));
        Assert.Empty(specs);
        Assert.Empty(problems);
        Assert.False(File.Exists(Host.Paths.VmmSpec("web")));
        // Detached from the deleted VM, and kept: the agent never deletes data on its own.
        Assert.Empty(PoolVolume("web-root")!.Attachments);
    }

    [Fact]
    public void A_volume_a_running_vmm_holds_is_not_detached_and_the_next_pass_does_it()
    {
        Assert.Empty(new VmmChildren(Settings, Vmm).Plan(StateOf([Web()], new Volume("web-root", 8, "web"))).Problems);
        var children = new VmmChildren(Settings, Vmm);
        // The volume moves from web to db while web's vmm still has it open.
        DesiredState moved = StateOf([Web(volumes: []), Web("db", ["web-root"])], new Volume("web-root", 8, "db"));
        using (VolumePool pool = VolumePool.Open(PoolFolder))
        using (pool.OpenVolume("web-root", "web", readOnly: false))
        {
            (IReadOnlyList<ChildSpec> specs, IReadOnlyList<string> problems) = children.Plan(moved);
            Assert.Equal(["vmm-web"], specs.Select(s => s.Name));
            Assert.StartsWith("VM 'db': volume 'web-root' in pool ", Assert.Single(problems));
        }
        Assert.Equal(["vmm-web", "vmm-db"], children.Plan(moved).Children.Select(s => s.Name));
        Assert.Equal([("db", false)], PoolVolume("web-root")!.Attachments);
    }
}
