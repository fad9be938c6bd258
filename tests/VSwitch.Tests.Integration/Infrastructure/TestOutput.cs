using Xunit;

namespace VSwitch.Tests.Integration.Infrastructure;

public static class TestOutput
{
    /// <summary>To the current test's output, or (from a fixture, outside any test) as a runner diagnostic message.</summary>
    public static void Write(string line)
    {
        if (TestContext.Current.TestOutputHelper is { } output)
            output.WriteLine(line);
        else
            TestContext.Current.SendDiagnosticMessage(line);
    }
}
