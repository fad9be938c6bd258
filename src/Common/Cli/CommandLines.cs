// How every VSwitch program runs its command line (System.CommandLine): a usage error is bad input,
// exit 2 (ExitStatus), printed as "PROGRAM VERB: message" with a pointer to that verb's --help,
// never System.CommandLine's own exit 1, which here means a failure while running. Every verb has
// --help. No response files: an argument that starts with @ is data (a key=value pair, a path).
using System.CommandLine;
using System.CommandLine.Parsing;

namespace VSwitch.Common.Cli;

public static class CommandLines
{
    public static ParserConfiguration Parsing { get; } = new() { ResponseFileTokenReplacer = null };

    /// <summary>Parses <paramref name="args"/> against <paramref name="root"/> and runs the chosen verb's action.</summary>
    /// <param name="program">The program's name as the user types it (vswitchd, vmm): messages start with it.</param>
    public static async Task<int> InvokeAsync(string program, Command root, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr,
        CancellationToken ct = default)
    {
        ParseResult parse = root.Parse(args, Parsing);
        if (parse.Errors.Count > 0)
            return ReportUsageErrors(program, parse, stderr);
        return await parse.InvokeAsync(Invocation(stdout, stderr), ct).ConfigureAwait(false);
    }

    /// <inheritdoc cref="InvokeAsync"/>
    public static int Invoke(string program, Command root, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ParseResult parse = root.Parse(args, Parsing);
        if (parse.Errors.Count > 0)
            return ReportUsageErrors(program, parse, stderr);
        return parse.Invoke(Invocation(stdout, stderr));
    }

    /// <summary>"vswitchd ctl" for the ctl verb of vswitchd: the program, then the verbs the user typed.</summary>
    public static string CommandPath(string program, ParseResult parse)
    {
        var verbs = new List<string>();
        for (SymbolResult? result = parse.CommandResult; result is CommandResult command; result = command.Parent)
        {
            if (command.Command is not RootCommand)
                verbs.Add(command.Command.Name);
        }
        verbs.Add(program);
        verbs.Reverse();
        return string.Join(' ', verbs);
    }

    /// <summary>
    /// No process-termination handling of System.CommandLine's own: it would answer SIGTERM and
    /// SIGINT itself and end the process with 143 or 130 two seconds later, while the daemons
    /// register their own handlers and stop in order (vswitchd drains its workers and prints its
    /// counters, vmm stops its vCPUs), then exit with their own status.
    /// </summary>
    private static InvocationConfiguration Invocation(TextWriter stdout, TextWriter stderr) =>
        new() { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };

    private static int ReportUsageErrors(string program, ParseResult parse, TextWriter stderr)
    {
        string command = CommandPath(program, parse);
        foreach (ParseError error in parse.Errors)
            stderr.WriteLine($"{command}: {error.Message}");
        stderr.WriteLine($"see '{command} --help'");
        return ExitStatus.BadInput;
    }
}
