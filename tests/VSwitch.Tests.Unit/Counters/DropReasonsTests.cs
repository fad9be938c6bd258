using Xunit;
using VSwitch.Dataplane.Counters;

namespace VSwitch.Tests.Unit.Counters;

public class DropReasonsTests
{
    // The labels are an external interface (control socket and metrics): drop-reasons.txt pins
    // every one, in enum order, so renaming an enum member cannot silently rename a time series.
    private static readonly string[] s_pinned =
        [.. File.ReadLines(Repository.PathOf("src", "Dataplane", "Counters", "drop-reasons.txt")).Where(line => line.Length > 0 && !line.StartsWith('#'))];

    [Fact]
    public void Labels_are_the_pinned_list_in_enum_order() =>
        Assert.Equal(s_pinned, Enum.GetValues<DropReason>().Where(r => r != DropReason.None).Select(DropReasons.Label));

    [Theory]
    [InlineData(DropReason.None, "none")]
    [InlineData(DropReason.SpoofedIpv4Source, "spoofed_ipv4_source")]
    [InlineData(DropReason.MalformedIcmpv6, "malformed_icmpv6")]
    [InlineData(DropReason.BadGeneveOptionLength, "bad_geneve_option_length")]
    public void Label_is_snake_case_with_digits_kept_in_their_word(DropReason reason, string expected) =>
        Assert.Equal(expected, DropReasons.Label(reason));

    [Fact]
    public void Labels_are_distinct() =>
        Assert.Equal(DropReasons.Count, Enum.GetValues<DropReason>().Select(DropReasons.Label).Distinct().Count());
}
