// /dev/kvm: the system fd (Documentation/virt/kvm/api.rst sections 2 "File descriptors" and
// 4.1-4.5; KVM_GET_SUPPORTED_CPUID). Opening it checks the API version, as api.rst 4.1 asks:
// "Applications should refuse to run if KVM_GET_API_VERSION returns a value other than 12."
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VSwitch.Vmm.Kvm.Interop;
using VSwitch.Vmm.Kvm.Uapi;
using static VSwitch.Vmm.Kvm.Interop.Interop;

namespace VSwitch.Vmm.Kvm;

public sealed class KvmSystem : IDisposable
{
    public const string DevicePath = "/dev/kvm";

    // E2BIG doubles the buffer; real hosts report well under 100 leaves, so 4096 means a bug.
    private const int MaxCpuidEntries = 4096;
    private const int InitialCpuidEntries = 128;
    private const int ErrnoTooBig = 7; // E2BIG

    private readonly FileDescriptorHandle _fd;

    private KvmSystem(FileDescriptorHandle fd, string path)
    {
        _fd = fd;
        ApiVersion = KvmThrow.Check(Ioctl(_fd, KvmIoctls.GetApiVersion, 0), "KVM_GET_API_VERSION");
        if (ApiVersion != KvmIoctls.ExpectedApiVersion)
            KvmThrow.Failure($"{path} reports KVM API version {ApiVersion}; only {KvmIoctls.ExpectedApiVersion} is supported");
        VcpuMmapSize = KvmThrow.Check(Ioctl(_fd, KvmIoctls.GetVcpuMmapSize, 0), "KVM_GET_VCPU_MMAP_SIZE");
        if (VcpuMmapSize < Unsafe.SizeOf<KvmRun>())
            KvmThrow.Failure($"KVM_GET_VCPU_MMAP_SIZE is {VcpuMmapSize}, smaller than struct kvm_run ({Unsafe.SizeOf<KvmRun>()})");
    }

    /// <summary>Opens /dev/kvm (or <paramref name="path"/>) read-write and close-on-exec.</summary>
    public static KvmSystem Open(string path = DevicePath)
    {
        FileDescriptorHandle? fd = OpenReadWrite(path, out int errno);
        if (fd is null)
            throw new KvmException($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
        try
        {
            return new KvmSystem(fd, path);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The loaded module that provides /dev/kvm: kvm_amd or kvm_intel (hardware-assisted), or
    /// kvm_pvm, PVM ("Pagetable-based Virtual Machine"), which runs only kernels built as PVM
    /// guests: a stock kernel never reaches its init there. Null when none of them is loaded.
    /// </summary>
    public static string? Module(string sysModules = "/sys/module") =>
        new[] { "kvm_amd", "kvm_intel", "kvm_pvm" }.FirstOrDefault(m => Directory.Exists(Path.Combine(sysModules, m)));

    /// <summary>KVM_GET_API_VERSION; always 12 once Open has succeeded.</summary>
    public int ApiVersion { get; }

    /// <summary>KVM_GET_VCPU_MMAP_SIZE: bytes of each vCPU's kvm_run mapping (with its I/O data pages).</summary>
    public int VcpuMmapSize { get; }

    /// <summary>KVM_CHECK_EXTENSION: 0 when unsupported, else 1 or a capability-specific number.</summary>
    public int CheckExtension(KvmCapability capability) =>
        KvmThrow.Check(Ioctl(_fd, KvmIoctls.CheckExtension, (ulong)capability), "KVM_CHECK_EXTENSION");

    /// <summary>KVM_CREATE_VM with machine type 0 (the default x86 VM).</summary>
    public KvmVm CreateVm()
    {
        int fd = KvmThrow.Check(Ioctl(_fd, KvmIoctls.CreateVm, 0), "KVM_CREATE_VM");
        return new KvmVm(new FileDescriptorHandle(fd), VcpuMmapSize);
    }

    /// <summary>KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can give a guest on this host.</summary>
    public KvmCpuidEntry2[] GetSupportedCpuid()
    {
        for (int capacity = InitialCpuidEntries; capacity <= MaxCpuidEntries; capacity *= 2)
        {
            byte[] buffer = CpuidBuffer.Create(capacity);
            int result = Ioctl(_fd, KvmIoctls.GetSupportedCpuid, buffer);
            if (result == -ErrnoTooBig)
                continue;
            KvmThrow.Check(result, "KVM_GET_SUPPORTED_CPUID");
            return CpuidBuffer.Entries(buffer);
        }
        KvmThrow.Failure($"KVM_GET_SUPPORTED_CPUID wants more than {MaxCpuidEntries} entries");
        return [];
    }

    public void Dispose() => _fd.Dispose();
}

/// <summary>struct kvm_cpuid2 as one byte buffer: the 8-byte header, then nent entries.</summary>
internal static class CpuidBuffer
{
    public static byte[] Create(int capacity)
    {
        byte[] buffer = new byte[Unsafe.SizeOf<KvmCpuid2Header>() + capacity * Unsafe.SizeOf<KvmCpuidEntry2>()];
        MemoryMarshal.Write(buffer, new KvmCpuid2Header { Nent = (uint)capacity });
        return buffer;
    }

    public static byte[] Create(ReadOnlySpan<KvmCpuidEntry2> entries)
    {
        byte[] buffer = Create(entries.Length);
        MemoryMarshal.AsBytes(entries).CopyTo(buffer.AsSpan(Unsafe.SizeOf<KvmCpuid2Header>()));
        return buffer;
    }

    /// <summary>The entries the kernel filled in; it rewrites nent to their count.</summary>
    public static KvmCpuidEntry2[] Entries(byte[] buffer)
    {
        int header = Unsafe.SizeOf<KvmCpuid2Header>();
        int capacity = (buffer.Length - header) / Unsafe.SizeOf<KvmCpuidEntry2>();
        uint count = MemoryMarshal.Read<KvmCpuid2Header>(buffer).Nent;
        if (count > (uint)capacity)
            KvmThrow.Failure($"kvm_cpuid2.nent came back as {count}, above the {capacity} entries passed in");
        return MemoryMarshal.Cast<byte, KvmCpuidEntry2>(buffer.AsSpan(header))[..(int)count].ToArray();
    }
}
