// The vhost-user wire format as a frontend writes it (QEMU docs/interop/vhost-user.rst,
// "Message Specification"): a 12-byte header (request, flags, payload size, all little-endian
// u32) and the payload; file descriptors ride beside it as SCM_RIGHTS ancillary data. Only the
// requests a virtio-net frontend sends are here; DPDK's vhost library (lib/vhost/vhost_user.c)
// is the backend they were checked against.
using System.Buffers.Binary;

namespace VSwitch.Vmm.VhostUser;

/// <summary>Frontend requests (vhost-user.rst, "Front-end message types").</summary>
public enum VhostUserRequest : uint
{
    GetFeatures = 1,
    SetFeatures = 2,
    SetOwner = 3,
    SetMemTable = 5,
    SetVringNum = 8,
    SetVringAddr = 9,
    SetVringBase = 10,
    GetVringBase = 11,
    SetVringKick = 12,
    SetVringCall = 13,
    GetProtocolFeatures = 15,
    SetProtocolFeatures = 16,
    GetQueueNum = 17,
    SetVringEnable = 18,
}

public static class VhostUserMessage
{
    public const int HeaderSize = 12;

    /// <summary>Flags: version 1 in bits 0-1, the reply bit, and "need reply" (REPLY_ACK).</summary>
    public const uint Version1 = 0x1;
    public const uint FlagReply = 0x4;
    public const uint FlagNeedReply = 0x8;

    /// <summary>VHOST_USER_F_PROTOCOL_FEATURES: a virtio feature bit that only vhost-user uses (bit 30).</summary>
    public const ulong ProtocolFeaturesBit = 1UL << 30;

    /// <summary>Protocol feature bits (vhost-user.rst, "Protocol features") this frontend uses.</summary>
    public const ulong ProtocolMultiqueue = 1UL << 0;
    public const ulong ProtocolReplyAck = 1UL << 3;

    /// <summary>The most memory regions SET_MEM_TABLE carries (VHOST_MEMORY_BASELINE_NREGIONS).</summary>
    public const int MaxMemoryRegions = 8;

    /// <summary>SET_VRING_KICK/CALL payload bit 8: no file descriptor follows (the ring is polled).</summary>
    public const ulong VringNoFd = 1UL << 8;

    /// <summary>A request with a payload of <paramref name="payloadSize"/> bytes; the caller fills the payload.</summary>
    public static byte[] Create(VhostUserRequest request, int payloadSize)
    {
        byte[] message = new byte[HeaderSize + payloadSize];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)request);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(4), Version1);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), (uint)payloadSize);
        return message;
    }

    /// <summary>Asks the backend to confirm <paramref name="message"/> (REPLY_ACK's need-reply flag); returns it.</summary>
    public static byte[] NeedReply(byte[] message)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(4), Version1 | FlagNeedReply);
        return message;
    }

    public static byte[] NoPayload(VhostUserRequest request) => Create(request, 0);

    public static byte[] U64(VhostUserRequest request, ulong value)
    {
        byte[] message = Create(request, 8);
        BinaryPrimitives.WriteUInt64LittleEndian(message.AsSpan(HeaderSize), value);
        return message;
    }

    /// <summary>struct vhost_vring_state: a ring index and a number (size, base index, or enable).</summary>
    public static byte[] VringState(VhostUserRequest request, uint index, uint number)
    {
        byte[] message = Create(request, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(HeaderSize), index);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(HeaderSize + 4), number);
        return message;
    }

    /// <summary>struct vhost_vring_addr: ring parts as addresses in the frontend's own address space.</summary>
    public static byte[] VringAddress(uint index, ulong descriptorTable, ulong usedRing, ulong availableRing)
    {
        byte[] message = Create(VhostUserRequest.SetVringAddr, 40);
        Span<byte> payload = message.AsSpan(HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(payload, index);
        BinaryPrimitives.WriteUInt32LittleEndian(payload[4..], 0); // flags: no dirty logging
        BinaryPrimitives.WriteUInt64LittleEndian(payload[8..], descriptorTable);
        BinaryPrimitives.WriteUInt64LittleEndian(payload[16..], usedRing);
        BinaryPrimitives.WriteUInt64LittleEndian(payload[24..], availableRing);
        BinaryPrimitives.WriteUInt64LittleEndian(payload[32..], 0); // log_guest_addr
        return message;
    }

    /// <summary>A region of guest RAM for SET_MEM_TABLE; its fd goes alongside, in the same order.</summary>
    public readonly record struct MemoryRegion(ulong GuestAddress, ulong Size, ulong UserAddress, ulong MmapOffset);

    /// <summary>struct vhost_user_memory: the region count, padding, then the regions (32 bytes each).</summary>
    public static byte[] MemoryTable(ReadOnlySpan<MemoryRegion> regions)
    {
        if (regions.Length is 0 or > MaxMemoryRegions)
            throw new ArgumentException($"vhost-user carries 1 to {MaxMemoryRegions} memory regions, not {regions.Length}", nameof(regions));
        byte[] message = Create(VhostUserRequest.SetMemTable, 8 + 32 * regions.Length);
        Span<byte> payload = message.AsSpan(HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)regions.Length);
        for (int i = 0; i < regions.Length; i++)
        {
            Span<byte> region = payload.Slice(8 + 32 * i, 32);
            BinaryPrimitives.WriteUInt64LittleEndian(region, regions[i].GuestAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(region[8..], regions[i].Size);
            BinaryPrimitives.WriteUInt64LittleEndian(region[16..], regions[i].UserAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(region[24..], regions[i].MmapOffset);
        }
        return message;
    }

    /// <summary>
    /// Checks a backend's reply header against the request it answers; null when it fits, else
    /// what is wrong (the frontend then drops the connection: a confused backend is not trusted).
    /// </summary>
    public static string? CheckReply(ReadOnlySpan<byte> header, VhostUserRequest request, int expectedSize)
    {
        uint got = BinaryPrimitives.ReadUInt32LittleEndian(header);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (got != (uint)request)
            return $"a reply to request {got} while waiting for {request}";
        if ((flags & 0x3) != Version1 || (flags & FlagReply) == 0)
            return $"reply to {request} has flags 0x{flags:x}: not a version 1 reply";
        if (size != expectedSize)
            return $"reply to {request} carries {size} bytes, not {expectedSize}";
        return null;
    }
}
