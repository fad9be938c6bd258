// struct kvm_ioeventfd and struct kvm_irqfd, include/uapi/linux/kvm.h (Documentation/virt/kvm/
// api.rst 4.59 KVM_IOEVENTFD and 4.75 KVM_IRQFD): the two ways a device's notifications bypass
// the VMM. An ioeventfd turns a guest's write to an address (with a value, under DATAMATCH) into
// an eventfd signal without an exit to user space; an irqfd turns an eventfd signal into an edge
// on a GSI. 64 and 32 bytes; pinned by KvmLayoutTests.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmIoeventfd
{
    public ulong Datamatch;
    public ulong Addr;
    /// <summary>Access width in bytes: 1, 2, 4 or 8 (0 matches any width; then no DATAMATCH).</summary>
    public uint Len;
    public int Fd;
    public uint Flags;
    public Padding36 Pad;

    [InlineArray(36)]
    public struct Padding36
    {
        private byte _element;
    }
}

[Flags]
public enum KvmIoeventfdFlags : uint
{
    None = 0,
    /// <summary>Signal only when the written value equals Datamatch.</summary>
    Datamatch = 1 << 0,
    /// <summary>A port I/O address instead of MMIO.</summary>
    Pio = 1 << 1,
    Deassign = 1 << 2,
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqfd
{
    public uint Fd;
    public uint Gsi;
    public uint Flags;
    public uint Resamplefd;
    public Padding16 Pad;

    [InlineArray(16)]
    public struct Padding16
    {
        private byte _element;
    }
}
