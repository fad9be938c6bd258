// The spec file of a disk test's guest (docs/vmm.md, "Spec file"): the lane's kernel and
// initramfs, 256 MiB, the guest init's parameters on the command line (tests/kvm/guest-vm/init)
// and the disks as JSON. A VM that attaches pool volumes needs its name, which their
// attachments name.
namespace VSwitch.Tests.Kvm.Vmm;

internal static class GuestSpec
{
    /// <summary>Writes DIR/FILE.json and returns its path; <paramref name="file"/> also tags the boot's console lines (vsw.nonce).</summary>
    public static string Write(string dir, string file, string parameters, string disks, string? vm = null, int vcpus = 1)
    {
        string spec = Path.Combine(dir, $"{file}.json");
        string named = vm is null ? "" : $"\"name\": \"{vm}\", ";
        File.WriteAllText(spec, $$"""
            {{{named}}"kernel": "{{GuestImages.Kernel}}", "initramfs": "{{GuestImages.Initramfs}}", "memory_mib": 256, "vcpus": {{vcpus}},
             "cmdline": "{{BootTests.CommandLine(file, parameters)}}", "disks": [{{disks}}]}
            """);
        return spec;
    }

    /// <summary>The disks entry of pool volumes.</summary>
    public static string PoolDisks(string pool, params string[] volumes) =>
        string.Join(", ", volumes.Select(v => $$"""{"pool": "{{pool}}", "volume": "{{v}}"}"""));
}
