// The runtime directory as vswitchd reports paths under it (HostReconciler.RealDirectory):
// every symbolic link along it resolved, as realpath(3) does, so /var/run/vswitch is /run/vswitch.
using VSwitch.Control.Agent.Reconcile;
using Xunit;

namespace VSwitch.Tests.Unit.Control.Agent.Reconcile;

public sealed class RealDirectoryTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("vsw-realdir-").FullName;

    [Fact]
    public void Links_along_the_path_are_resolved_and_plain_folders_kept()
    {
        string real = Directory.CreateDirectory(Path.Combine(_folder, "real", "run")).FullName;
        File.CreateSymbolicLink(Path.Combine(_folder, "absolute"), Path.Combine(_folder, "real"));
        File.CreateSymbolicLink(Path.Combine(_folder, "relative"), "real");

        Assert.Equal(real, HostReconciler.RealDirectory(Path.Combine(_folder, "absolute", "run")));
        Assert.Equal(real, HostReconciler.RealDirectory(Path.Combine(_folder, "relative", "run")));
        Assert.Equal(real, HostReconciler.RealDirectory(real));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
