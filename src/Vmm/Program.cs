// vmm: one KVM virtual machine monitor process per VM (issue "VMM core"). The machine model and
// device loop are not built yet; what exists is the KVM layer (Kvm/) and a probe of it.
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Kvm.Uapi;

if (args is ["kvm-info"])
{
    try
    {
        using KvmSystem kvm = KvmSystem.Open();
        Console.WriteLine($"{KvmSystem.DevicePath}: KVM API version {kvm.ApiVersion}, kvm_run mapping {kvm.VcpuMmapSize} bytes");
        foreach (KvmCapability capability in Enum.GetValues<KvmCapability>())
            Console.WriteLine($"  {capability,-20} {kvm.CheckExtension(capability)}");
        return 0;
    }
    catch (KvmException e)
    {
        Console.Error.WriteLine($"vmm: {e.Message}");
        return 1;
    }
}

Console.Error.WriteLine("usage: vmm kvm-info    (the VMM itself is not implemented yet; see the issue 'VMM core')");
return 2;
