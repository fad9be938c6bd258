// How much of a file the file system has allocated (st_blocks * 512, from stat(1)): .NET does not
// expose it, and thin volumes are tested by it. Shared with the KVM and integration tests.
using System.Diagnostics;

namespace VSwitch.Tests.Unit.Vmm.Volumes;

public static class FileSpace
{
    public static long AllocatedBytes(string path)
    {
        using Process stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%b", path]) { RedirectStandardOutput = true })!;
        string output = stat.StandardOutput.ReadToEnd();
        stat.WaitForExit();
        return long.Parse(output.Trim()) * 512;
    }
}
