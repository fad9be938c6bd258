using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;
using Xunit;

namespace VSwitch.Tests.Unit.ControlSocket;

public sealed class ControlFramingTests
{
    [Fact]
    public void Frame_is_a_big_endian_length_then_the_JSON()
    {
        var output = new ArrayBufferWriter<byte>();

        ControlFraming.WriteFrame(output, new JsonObject { ["op"] = "status" });

        Assert.Equal([0, 0, 0, 15, .. """{"op":"status"}"""u8], output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Writing_an_oversize_message_throws_and_writes_nothing()
    {
        var output = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentException>(() => ControlFraming.WriteFrame(output, new byte[ControlFraming.MaxMessageLength + 1]));

        Assert.Equal(0, output.WrittenCount);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Frames_are_read_across_segment_boundaries(int segmentLength)
    {
        byte[] bytes = [.. RawConnection.Frame("""{"op":"a"}"""), .. RawConnection.Frame("""{"op":"bb"}""")];
        ReadOnlySequence<byte> buffer = Segmented(bytes, segmentLength);

        Assert.Equal(FrameStatus.Complete, ControlFraming.TryReadFrame(ref buffer, out ReadOnlySequence<byte> first, out uint firstLength));
        Assert.Equal(FrameStatus.Complete, ControlFraming.TryReadFrame(ref buffer, out ReadOnlySequence<byte> second, out _));

        Assert.Equal(10u, firstLength);
        Assert.Equal("""{"op":"a"}""", Encoding.UTF8.GetString(first));
        Assert.Equal("""{"op":"bb"}""", Encoding.UTF8.GetString(second));
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void Partial_frame_is_incomplete_and_leaves_the_buffer_alone()
    {
        byte[] frame = RawConnection.Frame("""{"op":"a"}""");
        for (int length = 0; length < frame.Length; length++)
        {
            ReadOnlySequence<byte> buffer = Segmented(frame[..length], 2);

            Assert.Equal(FrameStatus.Incomplete, ControlFraming.TryReadFrame(ref buffer, out _, out _));
            Assert.Equal(length, buffer.Length);
        }
    }

    [Fact]
    public void Oversize_is_known_from_the_header_alone()
    {
        var buffer = new ReadOnlySequence<byte>([0x00, 0x10, 0x00, 0x01]);

        Assert.Equal(FrameStatus.Oversize, ControlFraming.TryReadFrame(ref buffer, out _, out uint length));

        Assert.Equal((uint)ControlFraming.MaxMessageLength + 1, length);
    }

    [Fact]
    public void Length_of_exactly_the_limit_is_not_oversize()
    {
        var buffer = new ReadOnlySequence<byte>([0x00, 0x10, 0x00, 0x00]);

        Assert.Equal(FrameStatus.Incomplete, ControlFraming.TryReadFrame(ref buffer, out _, out _));
    }

    [Fact]
    public void Largest_declared_length_is_oversize_not_an_overflow()
    {
        var buffer = new ReadOnlySequence<byte>([0xFF, 0xFF, 0xFF, 0xFF]);

        Assert.Equal(FrameStatus.Oversize, ControlFraming.TryReadFrame(ref buffer, out _, out uint length));

        Assert.Equal(uint.MaxValue, length);
    }

    [Fact]
    public async Task Reader_waits_for_the_rest_of_a_partial_frame()
    {
        var pipe = new Pipe();
        var frames = new FrameReader(pipe.Reader);
        byte[] frame = RawConnection.Frame("""{"op":"echo"}""");

        await pipe.Writer.WriteAsync(frame.AsMemory(0, 2), TimeoutExtensions.Ct).DefaultTimeout();
        ValueTask<Frame> pending = frames.ReadAsync(TimeoutExtensions.Ct);
        await pipe.Writer.WriteAsync(frame.AsMemory(2, 5), TimeoutExtensions.Ct).DefaultTimeout();
        Assert.False(pending.IsCompleted);
        await pipe.Writer.WriteAsync(frame.AsMemory(7), TimeoutExtensions.Ct).DefaultTimeout();
        Frame read = await pending.DefaultTimeout();

        Assert.Equal(FrameKind.Message, read.Kind);
        Assert.Equal("echo", (string)read.Message!["op"]!);
    }

    [Fact]
    public async Task Reader_reports_a_clean_end_and_a_truncated_one()
    {
        var clean = new Pipe();
        await clean.Writer.WriteAsync(RawConnection.Frame("{}"), TimeoutExtensions.Ct).DefaultTimeout();
        await clean.Writer.CompleteAsync().DefaultTimeout();
        var truncated = new Pipe();
        await truncated.Writer.WriteAsync(RawConnection.Frame("{}")[..5], TimeoutExtensions.Ct).DefaultTimeout();
        await truncated.Writer.CompleteAsync().DefaultTimeout();
        var cleanFrames = new FrameReader(clean.Reader);

        Assert.Equal(FrameKind.Message, (await cleanFrames.ReadAsync(TimeoutExtensions.Ct).DefaultTimeout()).Kind);
        Assert.Equal(FrameKind.End, (await cleanFrames.ReadAsync(TimeoutExtensions.Ct).DefaultTimeout()).Kind);
        Frame cut = await new FrameReader(truncated.Reader).ReadAsync(TimeoutExtensions.Ct).DefaultTimeout();
        Assert.Equal(FrameKind.Truncated, cut.Kind);
        Assert.Equal("the connection closed 5 bytes into a message", cut.Error);
    }

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int segmentLength)
    {
        if (bytes.Length == 0)
            return ReadOnlySequence<byte>.Empty;
        var first = new Segment(bytes.AsMemory(0, Math.Min(segmentLength, bytes.Length)), 0);
        Segment last = first;
        for (int offset = segmentLength; offset < bytes.Length; offset += segmentLength)
            last = last.Append(bytes.AsMemory(offset, Math.Min(segmentLength, bytes.Length - offset)));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
