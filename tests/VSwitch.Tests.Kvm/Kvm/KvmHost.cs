// Every test here needs a real /dev/kvm. Where there is none they fail with the way to get one,
// and never skip: a KVM lane that passes by skipping everything would hide a broken sandbox.
using VSwitch.Vmm.Kvm;
using Xunit;

namespace VSwitch.Tests.Kvm.Kvm;

internal static class KvmHost
{
    public static KvmSystem Open()
    {
        if (!File.Exists(KvmSystem.DevicePath))
        {
            Assert.Fail($"{KvmSystem.DevicePath} is missing on this host. These tests need real KVM: run them " +
                        "through tests/kvm/sandbox (tests/kvm/run-lane <results dir> runs the whole lane in one boot).");
        }
        return KvmSystem.Open();
    }
}
