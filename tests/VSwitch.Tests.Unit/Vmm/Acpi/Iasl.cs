// Runs the ACPICA disassembler (iasl -d, package acpica-tools) on tables the VMM built: an
// implementation of the ACPI spec that shares no code with ours, so a table it decodes with the
// expected fields and without a checksum complaint is one a guest's ACPICA will accept too.
using System.Diagnostics;
using Xunit;

namespace VSwitch.Tests.Unit.Vmm.Acpi;

internal static class Iasl
{
    /// <summary>The .dsl text iasl writes for <paramref name="table"/>.</summary>
    public static string Disassemble(ReadOnlySpan<byte> table, string name)
    {
        byte[] bytes = table.ToArray();
        return Run(name + ".dat", w => File.WriteAllBytes(w, bytes), "-d", name + ".dsl", File.ReadAllText);
    }

    /// <summary>The binary iasl's data table compiler makes of <paramref name="source"/> (table template syntax).</summary>
    public static byte[] Compile(string source, string name) =>
        Run(name + ".asl", w => File.WriteAllText(w, source), "-tc", name + ".aml", File.ReadAllBytes);

    private static T Run<T>(string inputName, Action<string> writeInput, string option, string outputName, Func<string, T> readOutput)
    {
        string directory = Directory.CreateTempSubdirectory("vswitch-iasl-").FullName;
        try
        {
            string input = Path.Combine(directory, inputName);
            writeInput(input);
            var start = new ProcessStartInfo("iasl", [option, input])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = directory,
            };
            Process process;
            try
            {
                process = Process.Start(start)!;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                Assert.Fail($"iasl is not installed ({e.Message}); run scripts/setup (it installs acpica-tools)");
                throw;
            }
            using (process)
            {
                string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
                process.WaitForExit();
                string result = Path.Combine(directory, outputName);
                Assert.True(process.ExitCode == 0 && File.Exists(result), $"iasl {option} {inputName} failed (exit {process.ExitCode}):\n{output}");
                return readOutput(result);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
