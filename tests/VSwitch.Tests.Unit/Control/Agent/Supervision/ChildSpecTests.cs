// A child's spec: what it refuses, and equality by content (a desired set rebuilt by the agent
// must not restart children whose spec did not change).
using VSwitch.Control.Agent.Supervision;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Supervision;

public sealed class ChildSpecTests
{
    private static ChildSpec Spec(string name = "vmm-web-1", string executable = "/usr/bin/vmm", string[]? arguments = null, Dictionary<string, string>? environment = null, string directory = "/") =>
        new(name, executable, arguments ?? ["run", "--config", "/etc/vm.yaml"], environment ?? new() { ["A"] = "1", ["B"] = "2" }, directory);

    [Fact]
    public void Specs_with_the_same_content_are_equal_whatever_their_collections()
    {
        ChildSpec a = Spec();
        ChildSpec b = Spec(arguments: ["run", "--config", "/etc/vm.yaml"], environment: new() { ["B"] = "2", ["A"] = "1" });
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, Spec(arguments: ["run"]));
        Assert.NotEqual(a, Spec(environment: new() { ["A"] = "1", ["B"] = "3" }));
        Assert.NotEqual(a, Spec(environment: new() { ["A"] = "1" }));
        Assert.NotEqual(a, Spec(directory: "/tmp"));
        Assert.NotEqual(a, Spec(executable: "/usr/local/bin/vmm"));
    }

    [Theory]
    [InlineData("vswitchd")]
    [InlineData("vmm-web-1")]
    [InlineData("a.b_c")]
    public void Valid_names_pass(string name) => Spec(name).Validate();

    [Theory]
    [InlineData("", "child name ''")]
    [InlineData("Web", "child name 'Web'")]
    [InlineData("../etc", "child name '../etc'")]
    [InlineData(".hidden", "child name '.hidden'")]
    [InlineData("a/b", "child name 'a/b'")]
    public void A_name_that_is_not_a_plain_file_name_is_refused(string name, string message) =>
        Assert.StartsWith(message, Assert.Throws<ArgumentException>(() => Spec(name).Validate()).Message);

    [Fact]
    public void Relative_paths_and_unrepresentable_strings_are_refused()
    {
        Assert.Contains("executable 'vmm' must be an absolute path", Assert.Throws<ArgumentException>(() => Spec(executable: "vmm").Validate()).Message);
        Assert.Contains("working directory 'run' must be", Assert.Throws<ArgumentException>(() => Spec(directory: "run").Validate()).Message);
        Assert.Contains("'A=B'", Assert.Throws<ArgumentException>(() => Spec(environment: new() { ["A=B"] = "1" }).Validate()).Message);
        Assert.Contains("NUL", Assert.Throws<ArgumentException>(() => Spec(arguments: ["a\0b"]).Validate()).Message);
    }
}
