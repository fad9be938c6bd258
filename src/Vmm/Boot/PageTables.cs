// Identity page tables for the 64-bit entry (Intel SDM vol. 3A section 4.5, 4-level paging with
// 2 MiB pages). boot.rst asks that the kernel, the zero page and the command line be identity
// mapped; mapping the whole first 4 GiB covers them wherever they are placed below the MMIO hole.
// The kernel replaces these tables in startup_64 before it touches anything else.
using System.Buffers.Binary;
using VSwitch.Vmm.Kvm;
using VSwitch.Vmm.Layout;

namespace VSwitch.Vmm.Boot;

public static class PageTables
{
    public const ulong Present = 1UL << 0;
    public const ulong Writable = 1UL << 1;
    public const ulong PageSize2M = 1UL << 7;
    private const int EntriesPerTable = 512;
    private const int TableSize = EntriesPerTable * 8;
    private const ulong TwoMiB = 2UL << 20;

    /// <summary>Bytes mapped: <see cref="MemoryLayout.PageDirectoryCount"/> GiB.</summary>
    public const ulong MappedBytes = (ulong)MemoryLayout.PageDirectoryCount << 30;

    /// <summary>Writes PML4, PDPT and PDs at their <see cref="MemoryLayout"/> addresses.</summary>
    public static void Write(GuestMemory memory)
    {
        Span<byte> pml4 = memory.GetSpan(MemoryLayout.Pml4, TableSize);
        Span<byte> pdpt = memory.GetSpan(MemoryLayout.Pdpt, TableSize);
        pml4.Clear();
        pdpt.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(pml4, MemoryLayout.Pdpt | Present | Writable);
        for (int directory = 0; directory < MemoryLayout.PageDirectoryCount; directory++)
        {
            ulong directoryAddress = MemoryLayout.PageDirectories + (ulong)(directory * TableSize);
            BinaryPrimitives.WriteUInt64LittleEndian(pdpt[(directory * 8)..], directoryAddress | Present | Writable);
            Span<byte> pd = memory.GetSpan(directoryAddress, TableSize);
            for (int entry = 0; entry < EntriesPerTable; entry++)
            {
                ulong page = (ulong)(directory * EntriesPerTable + entry) * TwoMiB;
                BinaryPrimitives.WriteUInt64LittleEndian(pd[(entry * 8)..], page | Present | Writable | PageSize2M);
            }
        }
    }
}
