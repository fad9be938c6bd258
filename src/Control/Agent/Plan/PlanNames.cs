// The names the daemons know the agent's resources by. vswitchd's names (ports, tenants, VMs,
// remote hosts) and vmm's VM name are 1..32 characters (docs/configuration.md "Names",
// docs/vmm.md "Spec file"), a pool volume's 1..20, while the agent's are up to 63
// (docs/agent.md "Resources"). A name that fits is kept as it is, so an operator finds "web-1"
// in `vswitchd ctl` and `vmm volume list`; a longer one is cut and given a hash of the whole.
//
// Derived names cannot collide with given ones: the agent's names are [a-z0-9-] only, and every
// derived name holds a character they cannot: '.' before a NIC's index, '_' before a hash. Both
// daemons accept '.' and '_' in names.
//
// vswitchd's remote VMs share one namespace with its VMs (a remote VM may not take a local VM's
// name, docs/configuration.md tenants[].remote_vms[]). The agent's local VM entries are all NICs,
// "web.nic0", and so always end in ".nic" and an index; a remote VM is named as any other resource
// (its name, or its start, '_' and a hash), which never holds a '.'. So the two never meet, and
// `vswitchd ctl list` shows the remote VM "db" as "db". (The agent also refuses a remote VM named
// as one of its VMs, and the other way round: a VM runs in one place, RemoteVmRules.)
//
// Every function here is pure and stable across processes and versions (SHA-256, not
// string.GetHashCode), because the agent must find tomorrow the port, socket and pool attachment
// it named today.
using System.Security.Cryptography;
using System.Text;

namespace VSwitch.Control.Agent.Plan;

public static class PlanNames
{
    /// <summary>vswitchd's port, tenant, VM and remote host names, and vmm's VM name.</summary>
    public const int MaxDaemonName = 32;
    /// <summary>A pool volume's name (VolumePool.DiskNameBytes), which is also the disk's id the guest reads (virtio-blk GET_ID, 20 bytes).</summary>
    public const int MaxVolumeName = 20;
    /// <summary>40 bits of SHA-256: two long names that share their kept prefix collide once in about 10^12.</summary>
    private const int HashChars = 10;

    /// <summary>A tenant's, VM's or remote host's name in vswitchd and vmm.</summary>
    public static string Daemon(string name) => Fit(name, MaxDaemonName);

    /// <summary>
    /// NIC <paramref name="index"/> of VM <paramref name="vm"/>: its vswitchd port, its vswitchd VM
    /// entry (vswitchd binds one VM per port, so a VM with two NICs is two entries) and its
    /// vhost-user socket's file name. "web-1.nic0": nicN as vmm's metrics name NICs (docs/vmm.md).
    /// </summary>
    public static string Nic(string vm, int index)
    {
        string suffix = $".nic{index}";
        return Fit(vm, MaxDaemonName - suffix.Length) + suffix;
    }

    /// <summary>A remote VM's name in vswitchd: as a tenant's, and never a NIC's (no '.').</summary>
    public static string RemoteVm(string name) => Daemon(name);

    /// <summary>A volume's name in the host's volume pool; the VM's disk names it so.</summary>
    public static string PoolVolume(string volume) => Fit(volume, MaxVolumeName);

    private static string Fit(string name, int room)
    {
        if (name.Length <= room)
            return name;
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..HashChars];
        return $"{name[..(room - HashChars - 1)]}_{hash}";
    }
}
