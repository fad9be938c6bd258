// VSwitch.Fuzz TARGET              under afl-fuzz: AFL persistent mode, one process for many inputs
// VSwitch.Fuzz TARGET FILE|DIR...  runs the given inputs once each (to reproduce a crash)
// TARGET is a name in FuzzTargets.All. fuzz/run builds, instruments and starts it.
using SharpFuzz;
using VSwitch.Fuzz.Targets;

if (args.Length < 1 || !FuzzTargets.All.TryGetValue(args[0], out FuzzTarget? target))
{
    Console.Error.WriteLine($"usage: VSwitch.Fuzz TARGET [FILE|DIR...]; targets: {string.Join(", ", FuzzTargets.All.Keys)}");
    return 2;
}

if (args.Length == 1)
{
    // Each input runs in this process, one after another: a target keeps no state between them.
    var input = new MemoryStream();
    Fuzzer.Run(stream =>
    {
        input.SetLength(0);
        stream.CopyTo(input);
        target(input.GetBuffer().AsSpan(0, (int)input.Length));
    });
    return 0;
}

// Instrumented assemblies count every branch in SharpFuzz's trace map, which afl-fuzz provides
// under Fuzzer.Run; outside it they need a scratch map of the same 64 KiB.
unsafe
{
    if (SharpFuzz.Common.Trace.SharedMem == null)
        SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
}

int failed = 0;
foreach (string file in args.Skip(1).SelectMany(a => Directory.Exists(a) ? Directory.GetFiles(a).Order() : (IEnumerable<string>)[a]))
{
    try
    {
        target(File.ReadAllBytes(file));
    }
    catch (Exception e)
    {
        failed++;
        Console.Error.WriteLine($"{file}: {e}");
    }
}
return failed == 0 ? 0 : 1;
