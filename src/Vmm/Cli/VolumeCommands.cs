// `vmm volume ...`: the tool that makes and changes volume pools (Volumes/Pool, docs/vmm.md
// "Volume pools"), and records which VM may attach each volume. A VM's spec naming a volume does
// not make it that VM's; an attachment made here does. Exit status: 0 done, 1 refused (the
// message says why), 2 usage error; `check` exits 1 when the pool does not hold.
using System.CommandLine;
using System.Globalization;
using VSwitch.Common.Cli;
using VSwitch.Vmm.Volumes.Pool;

namespace VSwitch.Vmm.Cli;

internal static class VolumeCommands
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var pool = new Option<string>("--pool") { Description = "the pool's folder", Required = true };
        var name = new Option<string>("--name") { Description = "the volume's name (1-20 letters, digits, - _ .): the disk id its guest reads", Required = true };
        var size = new Option<string>("--size") { Description = "bytes, or with K, M, G or T (powers of 1024)", Required = true };
        var vm = new Option<string>("--vm") { Description = "the VM's name, as its spec's name field gives it", Required = true };
        var readOnly = new Option<bool>("--read-only") { Description = "a read-only attachment (several VMs may share one)" };
        var extent = new Option<string>("--extent-size") { Description = "the unit volumes take space in (default 1M)" };

        var init = new Command("init", "Make a new, empty pool of --size bytes in --pool") { pool, size, extent };
        init.SetAction(p => Run(stderr, () =>
        {
            using VolumePool made = VolumePool.Create(p.GetValue(pool)!, Size(p.GetValue(size)!, "--size"),
                p.GetValue(extent) is { } e ? Size(e, "--extent-size") : VolumePool.DefaultExtentSize);
            stdout.WriteLine($"pool {made.Folder}: {made.State.ExtentCount} extents of {Mib(made.State.ExtentSize)}");
        }));

        var createSize = new Option<string>("--size") { Description = "bytes, or with K, M, G or T (powers of 1024): a volume of the pool's extents" };
        var nbd = new Option<string>("--nbd") { Description = "instead: the NBD export at this URI (nbd://host[:port]/export, nbd+unix:///export?socket=PATH)" };
        var file = new Option<string>("--file") { Description = "instead: the raw file or block device at this absolute path" };
        var create = new Command("create", "Make a volume: of --size bytes in the pool's extents (it takes space only as it is written), " +
            "or one that lives outside the pool, --nbd or --file, which the pool gives owners") { pool, name, createSize, nbd, file };
        create.SetAction(p => Run(stderr, () =>
        {
            string? sizeText = p.GetValue(createSize), nbdUri = p.GetValue(nbd), filePath = p.GetValue(file);
            if ((sizeText is null ? 0 : 1) + (nbdUri is null ? 0 : 1) + (filePath is null ? 0 : 1) != 1)
                throw new PoolException("give one of --size (a volume of the pool's extents), --nbd URI or --file PATH");
            using VolumePool opened = VolumePool.Open(p.GetValue(pool)!);
            PoolVolumeInfo made = sizeText is not null
                ? opened.CreateVolume(p.GetValue(name)!, Size(sizeText, "--size"))
                : opened.CreateExternalVolume(p.GetValue(name)!, nbdUri is not null ? ExternalKind.Nbd : ExternalKind.File, nbdUri ?? filePath!);
            stdout.WriteLine(made.External == ExternalKind.None ? $"volume {made.Name}: {made.SizeBytes} bytes" : $"volume {made.Name}: {made.Location}");
        }));

        var attach = new Command("attach", "Let the VM named --vm attach the volume (read-write: that VM alone)") { pool, name, vm, readOnly };
        attach.SetAction(p => Run(stderr, () =>
        {
            using VolumePool opened = VolumePool.Open(p.GetValue(pool)!);
            opened.Attach(p.GetValue(name)!, p.GetValue(vm)!, p.GetValue(readOnly));
        }));

        var detach = new Command("detach", "Take the volume from the VM named --vm (not while that VM runs with it)") { pool, name, vm };
        detach.SetAction(p => Run(stderr, () =>
        {
            using VolumePool opened = VolumePool.Open(p.GetValue(pool)!);
            opened.Detach(p.GetValue(name)!, p.GetValue(vm)!);
        }));

        var resize = new Command("resize", "Grow a volume to --size bytes (only while no VM runs with it)") { pool, name, size };
        resize.SetAction(p => Run(stderr, () =>
        {
            using VolumePool opened = VolumePool.Open(p.GetValue(pool)!);
            opened.ResizeVolume(p.GetValue(name)!, Size(p.GetValue(size)!, "--size"));
        }));

        var delete = new Command("delete", "Delete a volume (only while no VM runs with it); its space is zeroed and given back") { pool, name };
        delete.SetAction(p => Run(stderr, () =>
        {
            using VolumePool opened = VolumePool.Open(p.GetValue(pool)!);
            opened.DeleteVolume(p.GetValue(name)!);
        }));

        var from = new Option<string>("--from")
        {
            Description = "a raw disk image of the volume's size or smaller: a file, or a pipe (- for standard input, a FIFO, /dev/fd/N) " +
                "checked against the volume's size as it arrives",
            Required = true,
        };
        var import = new Command("import", "Copy a raw disk image into a volume, as the VM named --vm (its attachment); all-zero MiBs take no space") { pool, name, vm, from };
        import.SetAction(p => Run(stderr, () =>
        {
            string image = p.GetValue(from)!;
            using VolumePool opened = VolumePool.Open(p.GetValue(pool)!);
            using PoolVolume volume = opened.OpenVolume(p.GetValue(name)!, p.GetValue(vm)!, readOnly: false);
            bool standardInput = image == "-";
            string named = standardInput ? "standard input" : image;
            using Stream source = standardInput ? Console.OpenStandardInput() : new FileStream(image, FileMode.Open, FileAccess.Read);
            long copied = Import(volume, source, named);
            stdout.WriteLine($"volume {volume.Id}: {copied} bytes from {named}, {opened.State.Find(volume.Id)!.MappedExtents} extents taken");
        }));

        var list = new Command("list", "The pool's volumes: size, space taken, attachments, and whether a VM runs with it") { pool };
        list.SetAction(p => Run(stderr, () =>
        {
            using VolumePool opened = VolumePool.Open(p.GetValue(pool)!);
            PoolState state = opened.State;
            stdout.WriteLine($"pool {opened.Folder}: {state.ExtentCount - state.FreeExtents} of {state.ExtentCount} extents of {Mib(state.ExtentSize)} taken");
            stdout.WriteLine($"{"NAME",-20}  {"SIZE",12}  {"TAKEN",12}  {"IN USE",6}  ATTACHED TO");
            foreach (PoolVolumeInfo v in state.Volumes)
            {
                string owners = string.Join(", ", v.Attachments.Select(o => o.ReadOnly ? $"{o.Vm} (read-only)" : o.Vm));
                // An external volume's size is its server's or its file's: the pool does not know it.
                (string sized, string taken) = v.External == ExternalKind.None
                    ? (Mib(v.SizeBytes), Mib(v.MappedExtents * state.ExtentSize))
                    : (v.External == ExternalKind.Nbd ? "nbd" : "file", "-");
                stdout.WriteLine($"{v.Name,-20}  {sized,12}  {taken,12}  {(opened.InUse(v) ? "yes" : "no"),6}  {owners}" +
                    (v.External == ExternalKind.None ? "" : $"  ({v.Location})"));
            }
        }));

        var check = new Command("check", "Replay the pool's journal from its start and check every record against the ones before it") { pool };
        check.SetAction(p =>
        {
            string folder = p.GetValue(pool)!;
            try
            {
                using VolumePool opened = VolumePool.Open(folder);
                PoolState state = opened.State;
                long mapped = state.Volumes.Sum(v => (long)v.MappedExtents);
                long dataBytes = new FileInfo(Path.Combine(folder, VolumePool.DataFile)).Length;
                var problems = new List<string>();
                if (mapped + state.FreeExtents != state.ExtentCount)
                    problems.Add($"{mapped} extents mapped and {state.FreeExtents} free do not make the pool's {state.ExtentCount}");
                if (dataBytes != state.ExtentCount * state.ExtentSize)
                    problems.Add($"{VolumePool.DataFile} is {dataBytes} bytes, not {state.ExtentCount} extents of {state.ExtentSize}");
                stdout.WriteLine($"pool {opened.Folder}: {state.Records} records, {state.Volumes.Count()} volumes, {mapped} of {state.ExtentCount} extents mapped" +
                    (opened.TornBytes > 0 ? $"; {opened.TornBytes} bytes of a record cut short at the journal's end (ignored, dropped at the next change)" : ""));
                foreach (string problem in problems)
                    stderr.WriteLine($"vmm volume check: {problem}");
                return problems.Count == 0 ? ExitStatus.Ok : ExitStatus.Failed;
            }
            catch (IOException e)
            {
                stderr.WriteLine($"vmm volume check: {e.Message}");
                return ExitStatus.Failed;
            }
        });

        return new Command("volume", "Volume pools: make them, make and attach volumes (docs/vmm.md, \"Volume pools\")")
        {
            init, create, attach, detach, resize, delete, import, list, check,
        };
    }

    /// <summary>
    /// Copies <paramref name="source"/> (<paramref name="named"/> in errors) into <paramref name="volume"/> 1 MiB at
    /// a time, then flushes; a MiB of zeros takes no extent.
    /// </summary>
    private static long Import(PoolVolume volume, Stream source, string named)
    {
        // A file too big is refused before anything is written. A pipe's size is known only once it
        // has been read, so one too big is refused at the first MiB that would go past the volume's
        // end, the MiBs before it already written: as an import cut short leaves it.
        if (source.CanSeek && source.Length > volume.SizeBytes)
            throw TooBig(named, $"{source.Length} bytes", volume);
        byte[] buffer = new byte[1 << 20];
        long at = 0;
        while (true)
        {
            int read = source.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (read == 0)
                break;
            if (at + read > volume.SizeBytes)
                throw TooBig(named, $"at least {at + read} bytes", volume);
            // Whole sectors: a short last piece is padded with zeros.
            int length = (read + 511) / 512 * 512;
            buffer.AsSpan(read, length - read).Clear();
            if (buffer.AsSpan(0, length).ContainsAnyExcept((byte)0))
                volume.Write(at, buffer.AsSpan(0, length));
            else
                volume.Discard(at, length); // gives back what an earlier write there took, and reads as zeros

            at += read;
        }
        volume.Flush();
        return at;
    }

    private static PoolException TooBig(string named, string size, PoolVolume volume) =>
        new($"{named} is {size}, more than volume '{volume.Id}' ({volume.SizeBytes})");

    private static int Run(TextWriter stderr, Action action)
    {
        try
        {
            action();
            return ExitStatus.Ok;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"vmm volume: {e.Message}");
            return ExitStatus.Failed;
        }
        catch (FormatException e)
        {
            stderr.WriteLine($"vmm volume: {e.Message}");
            return ExitStatus.BadInput;
        }
    }

    /// <summary>"64M" and the like: bytes, or K, M, G, T for powers of 1024.</summary>
    internal static long Size(string text, string option)
    {
        string digits = text.TrimEnd('K', 'M', 'G', 'T', 'k', 'm', 'g', 't');
        int shift = text.Length == digits.Length ? 0 : char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 40 };
        if (text.Length - digits.Length > 1 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ||
            value <= 0 || value > long.MaxValue >> shift)
            throw new FormatException($"{option}: '{text}' is not a size (bytes, or a number with K, M, G or T)");
        return value << shift;
    }

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):0.#} MiB";
}
