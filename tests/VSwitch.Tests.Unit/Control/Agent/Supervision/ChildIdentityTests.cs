// The identity file a supervisor leaves for the next one: written whole by rename, read back
// equal, and a file that does not name its own child reported rather than trusted.
using VSwitch.Control.Agent.Supervision;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Supervision;

public sealed class ChildIdentityTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("vswitch-identity-").FullName;

    private static ChildIdentity Identity(string name) =>
        new(name, 4321, 987654321, ChildIdentity.CurrentBootId, "/usr/bin/vmm", 3,
            new ChildSpec(name, "/usr/bin/vmm", ["run"], new Dictionary<string, string> { ["A"] = "1" }, "/"));

    [Fact]
    public void What_is_written_is_read_back_and_nothing_else_is_left()
    {
        string state = Path.Combine(_folder, "state");
        Identity("vmm-a").Write(state);
        Identity("vmm-b").Write(state);
        (Identity("vmm-b") with { Pid = 99 }).Write(state);

        var read = ChildIdentity.ReadAll(state).ToList();
        Assert.Equal([("vmm-a", Identity("vmm-a"), null), ("vmm-b", Identity("vmm-b") with { Pid = 99 }, null)], read);
        Assert.Equal(["vmm-a.json", "vmm-b.json"], Directory.GetFiles(state).Select(Path.GetFileName).Order());

        ChildIdentity.Delete(state, "vmm-a");
        Assert.Equal(["vmm-b"], ChildIdentity.ReadAll(state).Select(r => r.Name));
    }

    [Fact]
    public void A_file_that_is_not_an_identity_of_its_name_is_a_problem_not_an_identity()
    {
        Identity("vmm-a").Write(_folder);
        File.Move(ChildIdentity.PathOf(_folder, "vmm-a"), ChildIdentity.PathOf(_folder, "vmm-b"));
        File.WriteAllText(ChildIdentity.PathOf(_folder, "vmm-c"), "{\"name\": ");

        var read = ChildIdentity.ReadAll(_folder).ToList();
        Assert.Equal(["vmm-b", "vmm-c"], read.Select(r => r.Name));
        Assert.All(read, r => Assert.Null(r.Identity));
        Assert.Contains("not its file's", read[0].Problem);
        Assert.NotNull(read[1].Problem);
    }

    [Fact]
    public void A_missing_directory_holds_no_identities() =>
        Assert.Empty(ChildIdentity.ReadAll(Path.Combine(_folder, "none")));

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
