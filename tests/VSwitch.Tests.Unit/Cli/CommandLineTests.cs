// Both programs' command lines run one way (Common/Cli/CommandLines.cs): usage errors exit 2 and
// name the verb, --help works on every verb, and the exit statuses mean the same in both.
using VSwitch.Common.Cli;
using VSwitch.Dataplane.Cli;
using VSwitch.Tests.Unit.Config;
using VSwitch.Vmm.Cli;
using VSwitch.Vmm.Machine;
using Xunit;

namespace VSwitch.Tests.Unit.Cli;

public sealed class CommandLineTests
{
    [Theory]
    [InlineData(new[] { "run" }, "vswitchd run: Option '--config' is required.\nsee 'vswitchd run --help'\n")]
    [InlineData(new[] { "run", "--config", "x.yaml", "--offlne" }, "vswitchd run: Unrecognized command or argument '--offlne'.\nsee 'vswitchd run --help'\n")]
    [InlineData(new[] { "check-config" }, "vswitchd check-config: Required argument 'FILE' missing for command: 'check-config'.\nsee 'vswitchd check-config --help'\n")]
    [InlineData(new[] { "start" }, "vswitchd: Required command was not provided.\nvswitchd: Unrecognized command or argument 'start'.\nsee 'vswitchd --help'\n")]
    [InlineData(new string[0], "vswitchd: Required command was not provided.\nsee 'vswitchd --help'\n")]
    public async Task Vswitchd_usage_errors_exit_2_naming_the_verb(string[] args, string expected)
    {
        (int exit, string stdout, string stderr) = await VswitchdAsync(args);

        Assert.Equal(ExitStatus.BadInput, exit);
        Assert.Equal("", stdout);
        Assert.Equal(expected, stderr);
    }

    [Theory]
    [InlineData(new[] { "--help" }, " [command] [options]")]
    [InlineData(new[] { "run", "--help" }, " run [options]")]
    [InlineData(new[] { "check-config", "-h" }, " check-config <FILE> [options]")]
    [InlineData(new[] { "ctl", "--help" }, " ctl [<request>...] [options]")]
    public async Task Vswitchd_help_works_on_every_verb(string[] args, string usage)
    {
        (int exit, string stdout, string stderr) = await VswitchdAsync(args);

        Assert.Equal(ExitStatus.Ok, exit);
        Assert.Equal("", stderr);
        // The program's name in the usage line is the executable's: vswitchd, or the test runner here.
        Assert.Contains(usage, stdout.Split("Usage:\n")[1].Split('\n')[0]);
    }

    [Fact]
    public async Task Check_config_says_ok_for_a_good_file_and_names_the_bad_field_of_a_bad_one()
    {
        string folder = Directory.CreateTempSubdirectory("vswitchd-cli.").FullName;
        try
        {
            string good = Path.Combine(folder, "good.yaml"), bad = Path.Combine(folder, "bad.yaml");
            await File.WriteAllTextAsync(good, ConfigFixture.Yaml, TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(bad, ConfigFixture.Yaml.With("idle_sleep_us: 50", "idle_sleep_us: -1"), TestContext.Current.CancellationToken);

            (int okExit, string okOut, _) = await VswitchdAsync(["check-config", good]);
            (int badExit, string badOut, string badErr) = await VswitchdAsync(["check-config", bad]);

            Assert.Equal(ExitStatus.Ok, okExit);
            Assert.StartsWith($"{good}: ok (", okOut);
            Assert.Equal(ExitStatus.BadInput, badExit);
            Assert.Equal("", badOut);
            Assert.StartsWith("vswitchd: bad configuration:\n", badErr);
            Assert.Contains("workers.idle_sleep_us: -1 is out of range (0..100000)", badErr);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Vmm_usage_errors_exit_2_naming_the_verb()
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };

        int exit = VmmCommandLine.Invoke(["run", "--kernel", "/dev/null", "--bogus"], stdout, stderr);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("vmm run: Unrecognized command or argument '--bogus'.\nsee 'vmm run --help'\n", stderr.ToString());
    }

    [Fact]
    public void Both_programs_read_0_1_2_alike()
    {
        Assert.Equal((ExitStatus.Ok, ExitStatus.Failed, ExitStatus.BadInput), (ExitCodes.PowerOff, ExitCodes.VmmError, ExitCodes.BadInput));
        Assert.Equal((ExitStatus.Ok, ExitStatus.Failed, ExitStatus.BadInput),
            (Dataplane.Cli.ControlCli.ExitOk, Dataplane.Cli.ControlCli.ExitRefused, Dataplane.Cli.ControlCli.ExitUsage));
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> VswitchdAsync(string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        int exit = await VswitchdCommandLine.InvokeAsync(args, stdout, stderr, TestContext.Current.CancellationToken);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
