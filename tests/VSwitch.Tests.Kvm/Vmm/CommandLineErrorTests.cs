// Inputs that cannot describe a VM end `vmm run` with exit code 2 and a message that names the
// input, before any VM exists (docs/vmm.md, "Exit codes"). Run in-process: nothing here boots.
using VSwitch.Vmm.Cli;
using Xunit;

namespace VSwitch.Tests.Kvm.Vmm;

public class CommandLineErrorTests
{
    private static (int ExitCode, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exitCode = VmmCommandLine.Invoke(args, stdout, stderr);
        return (exitCode, stderr.ToString());
    }

    [Fact]
    public void A_missing_kernel_file_is_named()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"no-such-kernel-{Guid.NewGuid():n}");
        (int code, string stderr) = Run("run", "--kernel", missing);
        Assert.Equal(2, code);
        Assert.StartsWith($"vmm: kernel: cannot read {missing}: ", stderr);
    }

    [Fact]
    public void A_file_that_is_not_a_bzImage_is_refused_with_the_reason()
    {
        string notKernel = Path.Combine(Path.GetTempPath(), $"not-a-kernel-{Guid.NewGuid():n}");
        File.WriteAllBytes(notKernel, new byte[4096]);
        try
        {
            (int code, string stderr) = Run("run", "--kernel", notKernel);
            Assert.Equal(2, code);
            Assert.Contains($"{notKernel}: kernel image: boot_flag at 0x1fe is 0x0000, not 0xaa55; not a bzImage", stderr);
        }
        finally
        {
            File.Delete(notKernel);
        }
    }

    [Theory]
    [InlineData("""{"kernel": "KERNEL", "memory_mib": 100.5}""", "vm.json: memory_mib: must be a whole number, not 100.5")]
    [InlineData("""{"kernel": "KERNEL", "memory_mib": 63}""", "vm.json: memory_mib: 63 is not a multiple of 2 in 64..1048576")]
    [InlineData("""{"kernel": "KERNEL", "vcpus": 0}""", "vm.json: vcpus: 0 is not in 1..254")]
    [InlineData("""{"kernel": "KERNEL", "vpcus": 2}""", "vm.json: vpcus: unknown field")]
    [InlineData("""{"kernel": "KERNEL", "serial": {"output": "file"}}""", "vm.json: serial.path: missing")]
    [InlineData("""{"memory_mib": 256}""", "vm.json: kernel: missing")]
    public void A_bad_spec_field_is_named(string json, string expected)
    {
        string folder = Directory.CreateTempSubdirectory("vmm-spec.").FullName;
        try
        {
            string kernel = Path.Combine(folder, "bzImage");
            File.WriteAllBytes(kernel, TripleFaultTests.Ud2Kernel());
            string spec = Path.Combine(folder, "vm.json");
            File.WriteAllText(spec, json.Replace("KERNEL", kernel));
            (int code, string stderr) = Run("run", "--spec", spec);
            Assert.Equal(2, code);
            Assert.StartsWith($"vmm: {expected}", stderr);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_bad_option_value_is_named_as_the_option()
    {
        (int code, string stderr) = Run("run", "--kernel", "/dev/null", "--vcpus", "300");
        Assert.Equal(2, code);
        Assert.StartsWith("vmm: --vcpus: 300 is not in 1..254", stderr);
    }
}
