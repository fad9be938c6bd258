// The vhost-user frontend's messages, byte for byte against QEMU's docs/interop/vhost-user.rst
// ("Message Specification"): a wrong offset here is a backend that maps the wrong memory.
using System.Buffers.Binary;
using VSwitch.Vmm.VhostUser;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.VhostUser;

public class VhostUserMessageTests
{
    private static (uint Request, uint Flags, uint Size) Header(byte[] message) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(message), BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(4)),
         BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(8)));

    [Fact]
    public void A_header_is_request_version_1_flags_and_payload_size()
    {
        Assert.Equal((1u, 1u, 0u), Header(VhostUserMessage.NoPayload(VhostUserRequest.GetFeatures)));
        byte[] features = VhostUserMessage.NeedReply(VhostUserMessage.U64(VhostUserRequest.SetFeatures, 0x1_4000_0000));
        Assert.Equal((2u, 0x9u, 8u), Header(features));
        Assert.Equal(0x1_4000_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(features.AsSpan(12)));
    }

    [Fact]
    public void Vring_state_and_address_lay_out_as_struct_vhost_vring_state_and_addr()
    {
        byte[] state = VhostUserMessage.VringState(VhostUserRequest.SetVringBase, 3, 17);
        Assert.Equal((10u, 1u, 8u), Header(state));
        Assert.Equal((3u, 17u), (BinaryPrimitives.ReadUInt32LittleEndian(state.AsSpan(12)), BinaryPrimitives.ReadUInt32LittleEndian(state.AsSpan(16))));

        byte[] address = VhostUserMessage.VringAddress(1, descriptorTable: 0x1000, usedRing: 0x3000, availableRing: 0x2000);
        Assert.Equal((9u, 1u, 40u), Header(address));
        Span<byte> p = address.AsSpan(12);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(p));
        Assert.Equal(0x1000UL, BinaryPrimitives.ReadUInt64LittleEndian(p[8..]));  // desc_user_addr
        Assert.Equal(0x3000UL, BinaryPrimitives.ReadUInt64LittleEndian(p[16..])); // used_user_addr
        Assert.Equal(0x2000UL, BinaryPrimitives.ReadUInt64LittleEndian(p[24..])); // avail_user_addr
    }

    [Fact]
    public void The_memory_table_has_a_count_padding_and_32_bytes_a_region()
    {
        byte[] table = VhostUserMessage.MemoryTable([new(0, 0xc000_0000, 0x7f00_0000_0000, 0), new(0x1_0000_0000, 0x4000_0000, 0x7f00_c000_0000, 0xc000_0000)]);
        Assert.Equal((5u, 1u, 8u + 64u), Header(table));
        Span<byte> p = table.AsSpan(12);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(p));
        Span<byte> second = p.Slice(8 + 32, 32);
        Assert.Equal(0x1_0000_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(second));
        Assert.Equal(0x4000_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(second[8..]));
        Assert.Equal(0x7f00_c000_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(second[16..]));
        Assert.Equal(0xc000_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(second[24..]));
        Assert.Throws<ArgumentException>(() => VhostUserMessage.MemoryTable(new VhostUserMessage.MemoryRegion[9]));
    }

    [Theory]
    [InlineData(1u, 0x5u, 8u, null)]
    [InlineData(2u, 0x5u, 8u, "a reply to request 2 while waiting for GetFeatures")]
    [InlineData(1u, 0x1u, 8u, "reply to GetFeatures has flags 0x1: not a version 1 reply")]
    [InlineData(1u, 0x6u, 8u, "reply to GetFeatures has flags 0x6: not a version 1 reply")]
    [InlineData(1u, 0x5u, 4u, "reply to GetFeatures carries 4 bytes, not 8")]
    public void A_reply_must_answer_the_request_asked(uint request, uint flags, uint size, string? problem)
    {
        byte[] header = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(header, request);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), size);
        Assert.Equal(problem, VhostUserMessage.CheckReply(header, VhostUserRequest.GetFeatures, 8));
    }
}
