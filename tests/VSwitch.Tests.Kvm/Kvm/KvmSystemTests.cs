// /dev/kvm's system ioctls (Documentation/virt/kvm/api.rst 4.1, 4.4, 4.5, KVM_GET_SUPPORTED_CPUID)
// and the VM-level setup the VMM does before it creates vCPUs.
using System.Runtime.CompilerServices;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;
using Xunit;

namespace VSwitch.Tests.Kvm.Kvm;

public class KvmSystemTests
{
    [Fact]
    public void Dev_kvm_speaks_api_version_12()
    {
        using KvmSystem kvm = KvmHost.Open();
        Assert.Equal(12, kvm.ApiVersion);
    }

    [Fact]
    public void The_vcpu_mapping_holds_kvm_run_and_the_pio_data_page()
    {
        using KvmSystem kvm = KvmHost.Open();
        Assert.True(kvm.VcpuMmapSize >= Unsafe.SizeOf<KvmRun>());
        Assert.Equal(0, kvm.VcpuMmapSize % 4096);
    }

    [Fact]
    public void The_capabilities_the_vmm_relies_on_are_there()
    {
        using KvmSystem kvm = KvmHost.Open();
        Assert.True(kvm.CheckExtension(KvmCapability.UserMemory) > 0, "KVM_CAP_USER_MEMORY");
        Assert.True(kvm.CheckExtension(KvmCapability.SetTssAddr) > 0, "KVM_CAP_SET_TSS_ADDR");
        Assert.True(kvm.CheckExtension(KvmCapability.Irqchip) > 0, "KVM_CAP_IRQCHIP");
        Assert.True(kvm.CheckExtension(KvmCapability.Pit2) > 0, "KVM_CAP_PIT2");
        Assert.True(kvm.CheckExtension(KvmCapability.ImmediateExit) > 0, "KVM_CAP_IMMEDIATE_EXIT");
        Assert.True(kvm.CheckExtension(KvmCapability.NrMemslots) >= 32, "KVM_CAP_NR_MEMSLOTS");
    }

    [Fact]
    public void Supported_cpuid_starts_with_the_vendor_leaf()
    {
        using KvmSystem kvm = KvmHost.Open();
        KvmCpuidEntry2[] entries = kvm.GetSupportedCpuid();
        Assert.NotEmpty(entries);
        KvmCpuidEntry2 leaf0 = Assert.Single(entries, e => e.Function == 0);
        Assert.True(leaf0.Eax >= 1, $"leaf 0 reports max basic leaf {leaf0.Eax}");
    }

    [Fact]
    public void A_vm_gets_an_in_kernel_irqchip_and_pit_before_its_vcpus()
    {
        using KvmSystem kvm = KvmHost.Open();
        using KvmVm vm = kvm.CreateVm();
        vm.SetTssAddress(0xfffbd000);
        vm.SetIdentityMapAddress(0xfffbc000);
        vm.CreateIrqchip();
        vm.CreatePit2();
        using KvmVcpu vcpu = vm.CreateVcpu(0);
        Assert.Equal(0u, vcpu.Id);
    }

    [Fact]
    public void Refused_ioctls_say_which_call_failed_and_why()
    {
        using KvmSystem kvm = KvmHost.Open();
        using KvmVm vm = kvm.CreateVm();
        using KvmVcpu first = vm.CreateVcpu(0);
        KvmException e = Assert.Throws<KvmException>(() => vm.CreateVcpu(0).Dispose());
        Assert.StartsWith("KVM_CREATE_VCPU failed: ", e.Message);
        Assert.Equal(17, e.Errno); // EEXIST: vCPU id 0 is taken
    }
}
