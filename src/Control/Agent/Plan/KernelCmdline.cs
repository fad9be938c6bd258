// The guest kernel's command line as the agent boots a VM with it: the VM's own, plus the serial
// console the agent reads and the first NIC's address. Guests get their address here, from the
// kernel's IP autoconfiguration with autoconf off, rather than from DHCP: vswitchd drops DHCP
// servers' replies from VMs (docs/configuration.md, "First-hop security") and binds each NIC to
// its addresses, so the desired state is the only source of an address that works.
using System.Net;
using System.Text;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Plan;

public static class KernelCmdline
{
    /// <summary>COM1, the only console vmm has (docs/vmm.md, "Running a VM").</summary>
    public const string SerialConsole = "ttyS0";

    /// <summary>The first NIC is the guest's first virtio-net device: slot 0, probed first.</summary>
    public const string FirstNicDevice = "eth0";

    /// <summary>
    /// What a VM without a command line of its own boots with besides the console, as vmm's own
    /// default (docs/vmm.md): reboot through the i8042, no panic timeout (a panicked guest
    /// stops its VMM rather than hanging), no PCI probe (vmm has no PCI bus).
    /// </summary>
    public const string DefaultParameters = "reboot=k panic=-1 pci=off";

    /// <summary>Everything after it is for init, not the kernel (Documentation/admin-guide/kernel-parameters.rst).</summary>
    private const string EndOfKernelParameters = "--";

    /// <summary>
    /// The VM's command line with console=ttyS0 added unless it already names ttyS0 as a console
    /// (other consoles are kept: the agent's serial log is the one it reads, so ttyS0 is always
    /// one, and last, which makes it /dev/console), and the ip= parameter of the first NIC's
    /// first address. The agent's ip= wins over one the VM's command line has (and over
    /// nfsaddrs=, its old name): vswitchd drops a guest's frames from any other address, so
    /// another ip= could only cut the guest off. Without such an address, the VM's own ip= stays.
    /// Words are kept as written, in order, joined by single spaces; the agent's come last
    /// among the kernel's parameters, before any "--".
    /// </summary>
    public static string For(Vm vm)
    {
        List<string> words = Words(vm.Cmdline ?? DefaultParameters);
        int end = words.IndexOf(EndOfKernelParameters);
        if (end < 0)
            end = words.Count;
        List<string> kernel = words[..end];
        string? ip = IpParameter(vm);
        if (ip is not null)
            kernel.RemoveAll(word => NameOf(word) is "ip" or "nfsaddrs");
        if (!kernel.Any(IsSerialConsole))
            kernel.Add($"console={SerialConsole}");
        if (ip is not null)
            kernel.Add(ip);
        return string.Join(' ', kernel.Concat(words[end..]));
    }

    /// <summary>
    /// ip=&lt;client-ip&gt;:&lt;server-ip&gt;:&lt;gw-ip&gt;:&lt;netmask&gt;:&lt;hostname&gt;:&lt;device&gt;:&lt;autoconf&gt;
    /// (Documentation/admin-guide/nfs/nfsroot.rst): no server and no gateway (a tenant network
    /// has no router the agent knows of), the VM's name as its hostname (a DNS label already),
    /// autoconf off. Null when the first NIC has no address.
    /// </summary>
    private static string? IpParameter(Vm vm)
    {
        if (vm.Nics is not [{ Ipv4: [string address, ..] } nic, ..])
            return null;
        uint mask = uint.MaxValue << (32 - nic.Prefix); // Prefix is 1..32 (VmRules), so the shift is 0..31.
        var netmask = new IPAddress([(byte)(mask >> 24), (byte)(mask >> 16), (byte)(mask >> 8), (byte)mask]);
        return $"ip={address}:::{netmask}:{vm.Name}:{FirstNicDevice}:off";
    }

    /// <summary>console=ttyS0, with or without options (console=ttyS0,115200n8).</summary>
    private static bool IsSerialConsole(string word) =>
        NameOf(word) == "console" && word[(word.IndexOf('=') + 1)..].Split(',')[0].Trim('"') == SerialConsole;

    private static string NameOf(string word) => word.TrimStart('"').Split('=', 2)[0];

    /// <summary>
    /// Splits as the kernel does (lib/cmdline.c next_arg): at spaces outside double quotes, so
    /// init="/bin/sh -c x" is one word.
    /// </summary>
    private static List<string> Words(string cmdline)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool quoted = false;
        foreach (char c in cmdline)
        {
            if (c == '"')
                quoted = !quoted;
            if (char.IsWhiteSpace(c) && !quoted)
            {
                if (word.Length > 0)
                    words.Add(word.ToString());
                word.Clear();
                continue;
            }
            word.Append(c);
        }
        if (word.Length > 0)
            words.Add(word.ToString());
        return words;
    }
}
