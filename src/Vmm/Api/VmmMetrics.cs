// The API's "metrics" op (docs/vmm.md, "API"): the VM's statistics as Prometheus families, named
// and typed as the host agent exports them (it adds the VM's name as a label). Counters end in
// _total and are in base units (seconds, bytes); each family lists its samples' labels and values.
using System.Globalization;
using System.Text.Json.Nodes;
using VSwitch.Vmm.Devices.Virtio.Block;
using VSwitch.Vmm.Devices.Virtio.Mmio;
using VSwitch.Vmm.Machine;

namespace VSwitch.Vmm.Api;

internal static class VmmMetrics
{
    private sealed class Family(string name, string help)
    {
        public readonly JsonArray Samples = [];

        public string Help { get; set; } = help;

        public Family Add(double value, params (string Name, string Value)[] labels)
        {
            Samples.Add((JsonNode)new JsonObject
            {
                ["labels"] = new JsonObject([.. labels.Select(l => KeyValuePair.Create(l.Name, (JsonNode?)l.Value))]),
                ["value"] = value,
            });
            return this;
        }

        public JsonObject ToJson() => new() { ["name"] = name, ["type"] = "counter", ["help"] = Help, ["samples"] = Samples };
    }

    /// <summary>Every family of <paramref name="stats"/>, in a fixed order.</summary>
    public static JsonArray From(VmStatistics stats)
    {
        var runTime = new Family("vmm_vcpu_run_seconds_total", "Time the vCPU's thread spent in KVM_RUN: the guest running, and KVM's work for it.");
        var exits = new Family("vmm_vcpu_exits_total", "Exits of the vCPU to the VMM's user space, by reason.");
        var steal = new Family("vmm_vcpu_steal_seconds_total", "Time the vCPU's thread was runnable but waiting for a host CPU " +
            "(schedstat's run_delay): what KVM reports to the guest as steal time.");
        for (int v = 0; v < stats.VcpuExits.Count; v++)
        {
            string vcpu = Number(v);
            if (v < stats.VcpuRunTime.Count)
                runTime.Add(stats.VcpuRunTime[v].TotalSeconds, ("vcpu", vcpu));
            if (v < stats.VcpuSteal.Count && stats.VcpuSteal[v] is { } waited)
                steal.Add(waited.TotalSeconds, ("vcpu", vcpu));
            foreach (VcpuExitKind kind in Enum.GetValues<VcpuExitKind>())
                exits.Add(stats.VcpuExits[v][(int)kind], ("vcpu", vcpu), ("reason", ApiServer.ExitName(kind)));
        }
        // Without samples the family says why, where a reader of the metrics looks.
        if (steal.Samples.Count == 0 && stats.VcpuExits.Count > 0)
            steal.Help += " Not measured here: no readable /proc/self/task/<tid>/schedstat (a host kernel without CONFIG_SCHED_INFO).";
        var mmio = new Family("vmm_virtio_mmio_exits_total", "Exits on a virtio device's MMIO window, by register (queue_notify per queue).");
        for (int n = 0; n < stats.Nics.Count; n++)
            AddMmio(mmio, $"nic{n}", stats.Nics[n]);
        var requests = new Family("vmm_disk_requests_total", "Block requests the disk served, by outcome.");
        var queueRequests = new Family("vmm_disk_queue_requests_total", "Block requests the disk served, by request queue.");
        var read = new Family("vmm_disk_read_bytes_total", "Bytes the guest read from the disk.");
        var written = new Family("vmm_disk_written_bytes_total", "Bytes the guest wrote to the disk.");
        var flushes = new Family("vmm_disk_flushes_total", "Flush requests the disk served.");
        var reconnects = new Family("vmm_nbd_reconnects_total", "Connections to the disk's NBD server made again after one was lost.");
        var retries = new Family("vmm_nbd_retries_total", "Requests sent again on a new NBD connection.");
        foreach (DiskStatistics disk in stats.Disks)
        {
            (string, string) id = ("disk", disk.Id);
            foreach (BlockOutcome outcome in Enum.GetValues<BlockOutcome>())
                requests.Add(disk.Requests.Outcomes[(int)outcome], id, ("outcome", ApiServer.BlockOutcomeName(outcome)));
            for (int q = 0; q < disk.Requests.QueueRequests.Length; q++)
                queueRequests.Add(disk.Requests.QueueRequests[q], id, ("queue", Number(q)));
            read.Add(disk.Requests.ReadBytes, id);
            written.Add(disk.Requests.WrittenBytes, id);
            flushes.Add(disk.Requests.Flushes, id);
            AddMmio(mmio, disk.Id, disk.Exits);
            if (disk.Network is { } network)
            {
                reconnects.Add(network.Reconnects, id);
                retries.Add(network.Retries, id);
            }
        }
        var serialOut = new Family("vmm_serial_transmitted_bytes_total", "Bytes the guest sent on its serial console (COM1).").Add(stats.Serial.Transmitted);
        var serialIn = new Family("vmm_serial_received_bytes_total", "Bytes of host input the guest's serial console took.").Add(stats.Serial.Received);
        return new JsonArray([.. new[] { runTime, steal, exits, mmio, requests, queueRequests, read, written, flushes, reconnects, retries, serialOut, serialIn }
            .Select(f => (JsonNode)f.ToJson())]);
    }

    private static void AddMmio(Family family, string device, MmioExitCounts exits)
    {
        (string, string) id = ("device", device);
        family.Add(exits.InterruptStatusReads, id, ("register", "interrupt_status"), ("queue", ""));
        family.Add(exits.InterruptAcks, id, ("register", "interrupt_ack"), ("queue", ""));
        for (int q = 0; q < exits.QueueNotifies.Length; q++)
            family.Add(exits.QueueNotifies[q], id, ("register", "queue_notify"), ("queue", Number(q)));
        family.Add(exits.Other, id, ("register", "other"), ("queue", ""));
    }

    private static string Number(int n) => n.ToString(CultureInfo.InvariantCulture);
}
