// DPDK's vhost library (lib/vhost/rte_vhost.h, DPDK 22.11): the vhost-user backend driven
// directly, one socket per VM port, without an ethdev per port (Debian's DPDK has 32 ethdev
// slots, RTE_MAX_ETHPORTS). Every function here is exported by librte_vhost; none is inline.
// The reference user of this API is Open vSwitch's lib/netdev-dpdk.c.
using System.Runtime.InteropServices;

namespace VSwitch.Dataplane.Interop;

internal static unsafe partial class Interop
{
    internal const string VhostLibrary = "rte_vhost";

    /// <summary>RTE_VHOST_USER_CLIENT: connect to the socket instead of listening on it (and reconnect when it goes away).</summary>
    internal const ulong VhostUserClient = 1UL << 0;

    [LibraryImport(VhostLibrary, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rte_vhost_driver_register(string path, ulong flags);

    [LibraryImport(VhostLibrary, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rte_vhost_driver_unregister(string path);

    [LibraryImport(VhostLibrary, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rte_vhost_driver_disable_features(string path, ulong features);

    /// <summary><paramref name="ops"/> must stay valid while the socket is registered: the library keeps the pointer.</summary>
    [LibraryImport(VhostLibrary, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rte_vhost_driver_callback_register(string path, VhostDeviceOps* ops);

    [LibraryImport(VhostLibrary, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rte_vhost_driver_start(string path);

    [LibraryImport(VhostLibrary)]
    internal static partial int rte_vhost_get_ifname(int vid, byte* buf, nuint len);

    [LibraryImport(VhostLibrary)]
    internal static partial int rte_vhost_get_negotiated_features(int vid, ulong* features);

    [LibraryImport(VhostLibrary)]
    internal static partial ushort rte_vhost_get_vring_num(int vid);

    [LibraryImport(VhostLibrary)]
    internal static partial int rte_vhost_enable_guest_notification(int vid, ushort queueId, int enable);

    // The two burst calls are the workers' and, like the ethdev bursts (Interop.Shim.cs), never
    // block: they copy at most a burst and at most write the guest's call eventfd.

    /// <summary>Copies frames into the guest's rx vring <paramref name="queueId"/> (even ids); the mbufs stay the caller's to free.</summary>
    [LibraryImport(VhostLibrary)]
    [SuppressGCTransition]
    internal static partial ushort rte_vhost_enqueue_burst(int vid, ushort queueId, IntPtr* pkts, ushort count);

    /// <summary>Copies frames out of the guest's tx vring <paramref name="queueId"/> (odd ids) into fresh mbufs from <paramref name="mempool"/>.</summary>
    [LibraryImport(VhostLibrary)]
    [SuppressGCTransition]
    internal static partial ushort rte_vhost_dequeue_burst(int vid, ushort queueId, IntPtr mempool, IntPtr* pkts, ushort count);
}

/// <summary>struct rte_vhost_device_ops: the callbacks of one registered socket, run on DPDK's vhost-events thread.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VhostDeviceOps
{
    public delegate* unmanaged<int, int> NewDevice;
    public delegate* unmanaged<int, void> DestroyDevice;
    public delegate* unmanaged<int, ushort, int, int> VringStateChanged;
    public delegate* unmanaged<int, ulong, int> FeaturesChanged;
    public delegate* unmanaged<int, int> NewConnection;
    public delegate* unmanaged<int, void> DestroyConnection;
    public delegate* unmanaged<int, void> GuestNotified;
    public void* Reserved0;
}
