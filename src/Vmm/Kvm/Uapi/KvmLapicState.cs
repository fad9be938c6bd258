// struct kvm_lapic_state, arch/x86/include/uapi/asm/kvm.h (Documentation/virt/kvm/api.rst
// 4.57 KVM_GET_LAPIC / 4.58 KVM_SET_LAPIC): the in-kernel local APIC's 1 KiB register page, laid
// out as the xAPIC MMIO page (Intel SDM vol. 3A, table 11-1 "Local APIC Register Address Map").
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VSwitch.Vmm.Kvm.Uapi;

[StructLayout(LayoutKind.Sequential)]
public struct KvmLapicState
{
    public const int Size = 1024;

    /// <summary>LVT LINT0 (SDM table 11-1, offset 0x350).</summary>
    public const int LvtLint0 = 0x350;
    /// <summary>LVT LINT1 (offset 0x360).</summary>
    public const int LvtLint1 = 0x360;

    public LapicRegisters Registers;

    /// <summary>The 32-bit register at <paramref name="offset"/> (16-byte aligned, below 1 KiB).</summary>
    public uint Read(int offset) =>
        BinaryPrimitives.ReadUInt32LittleEndian(MemoryMarshal.AsBytes(new ReadOnlySpan<LapicRegisters>(in Registers))[offset..]);

    public void Write(int offset, uint value) =>
        BinaryPrimitives.WriteUInt32LittleEndian(MemoryMarshal.AsBytes(new Span<LapicRegisters>(ref Registers))[offset..], value);
}

[InlineArray(KvmLapicState.Size)]
public struct LapicRegisters
{
    private byte _element0;
}
