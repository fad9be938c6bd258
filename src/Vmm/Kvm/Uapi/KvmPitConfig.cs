// struct kvm_pit_config, include/uapi/linux/kvm.h (Documentation/virt/kvm/api.rst,
// section "KVM_CREATE_PIT2"). 64 bytes.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmPitConfig
{
    public uint Flags;
    public PitConfigPadding Padding;

    /// <summary>KVM_PIT_SPEAKER_DUMMY: port 0x61 reads back as a dummy speaker instead of exiting.</summary>
    public const uint SpeakerDummy = 1;
}

[InlineArray(15)]
public struct PitConfigPadding
{
    private uint _element0;
}
