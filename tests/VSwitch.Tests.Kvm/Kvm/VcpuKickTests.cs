// Getting a vCPU thread out of KVM_RUN while the guest spins (design.md, day-one note "KVM_RUN
// interruption"; Documentation/virt/kvm/api.rst 4.10 KVM_RUN "EINTR", kvm_run.immediate_exit).
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;
using Xunit;

namespace VSwitch.Tests.Kvm.Kvm;

public class VcpuKickTests
{
    private static readonly byte[] SpinForever =
    [
        0xEB, 0xFE,         // 1000  jmp $          never exits on its own
    ];

    // Generous: a nested TCG guest can take seconds to deliver what takes microseconds on metal.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public void A_kick_before_run_returns_at_once_without_entering_the_guest()
    {
        using var guest = new RealModeGuest(SpinForever);
        guest.Vcpu.Kick();
        Assert.Equal(KvmExitReason.Intr, guest.Vcpu.Run().Reason);
        Assert.Equal(RealModeGuest.CodeAddress, guest.Vcpu.GetRegisters().Rip);
    }

    [Fact]
    public void A_kick_interrupts_a_spinning_guest_again_and_again_on_its_own_thread()
    {
        using var guest = new RealModeGuest(SpinForever);
        var exits = new List<KvmExitReason>();
        Exception? failure = null;
        using var inRun = new SemaphoreSlim(0);
        var vcpuThread = new Thread(() =>
        {
            try
            {
                for (int i = 0; i < 3; i++)
                {
                    inRun.Release();
                    exits.Add(guest.Vcpu.Run().Reason);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "vcpu0" };
        vcpuThread.Start();

        for (int i = 0; i < 3; i++)
        {
            Assert.True(inRun.Wait(Patience, TestContext.Current.CancellationToken), $"the vCPU thread did not reach run {i}");
            Thread.Sleep(200); // let it enter KVM_RUN and spin, so the signal (not the flag) ends it
            guest.Vcpu.Kick();
        }

        Assert.True(vcpuThread.Join(Patience), "KVM_RUN was not interrupted by the kick");
        Assert.Null(failure);
        Assert.Equal([KvmExitReason.Intr, KvmExitReason.Intr, KvmExitReason.Intr], exits);
        Assert.Equal(RealModeGuest.CodeAddress, guest.Vcpu.GetRegisters().Rip); // still on its jmp $
    }
}
