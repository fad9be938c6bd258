// Random rings that a hostile guest could write, through the fuzz targets' own invariants
// (fuzz/VSwitch.Fuzz.Targets/VirtqueueTarget.cs): the device pops at most a queue's worth,
// hands out only chains inside RAM, returns every chain it takes exactly once, and never throws.
// The generator aims where bugs hide (addresses at region edges, in the hole, wrapping at 2^64;
// next indexes around the table size; avail.idx around a queue ahead) rather than at uniform bytes.
using System.Buffers.Binary;
using CsCheck;
using VSwitch.Fuzz.Targets;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Virtio;

public class VirtqueueProperties
{
    private static readonly Gen<ulong> s_address = Gen.Frequency(
        (6, Gen.ULong[0x8000, 0xff00]),
        (2, Gen.OneOfConst(VirtqueueTarget.IndirectArea, VirtqueueTarget.IndirectArea + 16)),
        (2, Gen.ULong[VirtqueueTarget.HighBase, VirtqueueTarget.HighTop]),
        (1, Gen.OneOfConst(VirtqueueTarget.LowTop - 8, VirtqueueTarget.HighTop - 8, 0x1_8000UL, ulong.MaxValue - 7, 0x1000UL, 0x3000UL)),
        (1, Gen.ULong));

    private static readonly Gen<uint> s_length = Gen.Frequency(
        (6, Gen.UInt[0, 256]),
        (1, Gen.OneOfConst(16u, 32u, 48u, 0x1_0000u, 0x8000_0000u, uint.MaxValue)),
        (1, Gen.UInt));

    private static readonly Gen<ushort> s_flags = Gen.Frequency((6, Gen.UShort[0, 3]), (2, Gen.UShort[0, 7]), (1, Gen.UShort));

    private static readonly Gen<byte[]> s_descriptor = Gen.Select(s_address, s_length, s_flags, Gen.UShort[0, 9], (address, length, flags, next) =>
    {
        byte[] raw = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(raw, address);
        BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(8), length);
        BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(12), flags);
        BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(14), next);
        return raw;
    });

    /// <summary>An input in VirtqueueTarget's format, for a queue of 1 to 16 entries.</summary>
    private static readonly Gen<byte[]> s_input =
        from sizeExponent in Gen.Byte[0, 4]
        from flags in Gen.Byte[0, 3]
        from availableIndex in Gen.Frequency((6, Gen.UShort[0, 18]), (1, Gen.UShort))
        from usedEvent in Gen.UShort[0, 18]
        from descriptors in s_descriptor.Array[1 << sizeExponent]
        from heads in Gen.Frequency((8, Gen.UShort[0, (ushort)((1 << sizeExponent) - 1)]), (1, Gen.UShort)).Array[1 << sizeExponent]
        from indirect in s_descriptor.Array[0, 8]
        select (byte[])[sizeExponent, flags, .. U16(availableIndex), .. U16(usedEvent), .. descriptors.SelectMany(d => d),
            .. heads.SelectMany(U16), .. indirect.SelectMany(d => d)];

    private static byte[] U16(ushort value) => [(byte)value, (byte)(value >> 8)];

    [Fact]
    public void A_device_serving_random_rings_keeps_every_invariant() =>
        s_input.Sample(input => VirtqueueTarget.Run(input), iter: 3000);

    [Fact]
    public void The_net_control_queue_answers_random_rings_and_counts_every_chain() =>
        s_input.Sample(input => VirtqueueTarget.RunNetControl(input), iter: 3000);
}
