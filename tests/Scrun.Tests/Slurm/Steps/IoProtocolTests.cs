using System.Buffers.Binary;
using System.Text;
using Scrun.Slurm;
using Scrun.Slurm.Steps;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm.Steps;

public class IoProtocolTests
{
    private const string IoStream = "io-stream";

    public static TheoryData<string> Releases() => new(CapturedSteps.Releases);

    /// <summary>What slurmstepd sent srun: the io_init_msg, then the frames.</summary>
    private static byte[] FromStepd(string release) => CapturedSteps.Single(release, IoStream, "in_raw");

    /// <summary>What srun sent slurmstepd: the stdin frames.</summary>
    private static byte[] FromSrun(string release) => CapturedSteps.Single(release, IoStream, "out_raw");

    private static int InitLength(byte[] stream) =>
        IoInitMessage.LengthPrefixSize + (int)BinaryPrimitives.ReadUInt32BigEndian(stream);

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task The_captured_init_message_is_read_to_its_last_byte(string release)
    {
        var captured = FromStepd(release);
        using var stream = new MemoryStream(captured);

        var init = await IoInitMessage.ReadAsync(stream);

        Assert.Equal(CapturedSteps.VersionOf(release), init.Version);
        Assert.Equal(0u, init.NodeId);
        Assert.Equal(1u, init.StdoutObjects);
        Assert.Equal(1u, init.StderrObjects);
        Assert.Equal(release == "2205" ? 528 : 572, init.Key.Length);
        Assert.StartsWith("MUNGE:", Encoding.ASCII.GetString(init.Key));
        Assert.EndsWith(":\0", Encoding.ASCII.GetString(init.Key));
        Assert.Equal(release == "2205" ? 4 + 546 : 4 + 590, stream.Position);
        Assert.Equal(InitLength(captured), stream.Position);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task The_captured_init_message_re_encodes_byte_for_byte(string release)
    {
        var captured = FromStepd(release);
        var init = await IoInitMessage.ReadAsync(new MemoryStream(captured));

        Assert.Equal(Convert.ToHexString(captured, 0, InitLength(captured)), Convert.ToHexString(init.Encode()));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task The_init_key_is_the_signature_that_ends_the_step_credential(string release)
    {
        var init = await IoInitMessage.ReadAsync(new MemoryStream(FromStepd(release)));
        var stepCreateResponse = CapturedSteps.Single(release, "5001-5002-step_create", "in_frame");
        var lengthThenKey = new byte[4 + init.Key.Length];
        BinaryPrimitives.WriteUInt32BigEndian(lengthThenKey, (uint)init.Key.Length);
        init.Key.CopyTo(lengthThenKey, 4);

        var at = stepCreateResponse.AsSpan().IndexOf(lengthThenKey);

        Assert.True(at > 0, "the 5002 reply does not carry the key with its length");
        Assert.Equal(at, stepCreateResponse.AsSpan().LastIndexOf(lengthThenKey));
        Assert.Null(init.Validate(stepCreateResponse.AsSpan(at + 4, init.Key.Length), nodeCount: 1));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task The_captured_output_is_three_lines_then_one_eof_per_stream(string release)
    {
        var captured = FromStepd(release);
        using var stream = new MemoryStream(captured);
        var init = await IoInitMessage.ReadAsync(stream);

        var frames = await ReadAllAsync(new IoFrameReader(stream));

        Assert.Equal(["Stdout in1\n", "Stdout out\n", "Stderr err\n", "Stdout EOF", "Stderr EOF"], frames.Select(Describe));
        Assert.All(frames, frame => Assert.Equal((0, 0), (frame.Header.GlobalTaskId, frame.Header.LocalTaskId)));
        Assert.Equal(captured.Length, stream.Position);
        var tracker = EndOfStreamTracker.For(init);
        Assert.Equal([false, false, false, false, true], frames.Select(frame => tracker.Observe(frame.Header)).ToArray());
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_fake_slurmstepd_re_creates_the_captured_stream_byte_for_byte(string release)
    {
        var captured = FromStepd(release);
        var init = await IoInitMessage.ReadAsync(new MemoryStream(captured));
        using var stream = new MemoryStream();

        await stream.WriteAsync(init.Encode());
        await IoFrameWriter.WriteOutputAsync(stream, IoStreamType.Stdout, "in1\n"u8.ToArray());
        await IoFrameWriter.WriteOutputAsync(stream, IoStreamType.Stdout, "out\n"u8.ToArray());
        await IoFrameWriter.WriteOutputAsync(stream, IoStreamType.Stderr, "err\n"u8.ToArray());
        await IoFrameWriter.WriteOutputEndAsync(stream, IoStreamType.Stdout);
        await IoFrameWriter.WriteOutputEndAsync(stream, IoStreamType.Stderr);

        Assert.Equal(Convert.ToHexString(captured), Convert.ToHexString(stream.ToArray()));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task Stdin_re_encodes_byte_for_byte(string release)
    {
        using var stream = new MemoryStream();

        await IoFrameWriter.WriteStdinAsync(stream, "in1\n"u8.ToArray());
        await IoFrameWriter.WriteStdinEndAsync(stream);

        Assert.Equal(Convert.ToHexString(FromSrun(release)), Convert.ToHexString(stream.ToArray()));
        stream.Position = 0;
        var frames = await ReadAllAsync(new IoFrameReader(stream));
        Assert.Equal(["AllStdin in1\n", "AllStdin EOF"], frames.Select(Describe));
        Assert.All(frames, frame => Assert.Equal((IoHeader.AllTasks, IoHeader.AllTasks), (frame.Header.GlobalTaskId, frame.Header.LocalTaskId)));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task Reads_of_one_byte_at_a_time_give_the_same_message_and_frames(string release)
    {
        var captured = FromStepd(release);
        using var whole = new MemoryStream(captured);
        var expectedInit = await IoInitMessage.ReadAsync(whole);
        var expectedFrames = await ReadAllAsync(new IoFrameReader(whole));
        var trickle = new OneByteAtATimeStream(captured);

        var init = await IoInitMessage.ReadAsync(trickle);
        var frames = await ReadAllAsync(new IoFrameReader(trickle));

        Assert.Equal(expectedInit with { Key = [] }, init with { Key = [] });
        Assert.Equal(expectedInit.Key, init.Key);
        Assert.Equal(expectedFrames.Select(frame => frame.Header), frames.Select(frame => frame.Header));
        Assert.Equal(expectedFrames.Select(Describe), frames.Select(Describe));
        Assert.True(trickle.Reads >= captured.Length, $"{trickle.Reads} reads for {captured.Length} bytes");
    }

    [Fact]
    public async Task A_connection_closed_between_frames_is_a_clean_end()
    {
        Assert.Null(await new IoFrameReader(new MemoryStream()).ReadAsync());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(9)]
    public async Task A_connection_closed_inside_a_header_is_refused(int length)
    {
        var frame = Frame(new IoHeader(IoStreamType.Stdout, 0, 0, 4), "out\n"u8);

        var error = await Assert.ThrowsAsync<SlurmProtocolException>(() => new IoFrameReader(new OneByteAtATimeStream(frame[..length])).ReadAsync().AsTask());

        Assert.Contains("header", error.Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(12)]
    [InlineData(13)]
    public async Task A_connection_closed_inside_a_payload_is_refused(int length)
    {
        var frame = Frame(new IoHeader(IoStreamType.Stderr, 0, 0, 4), "err\n"u8);

        var error = await Assert.ThrowsAsync<SlurmProtocolException>(() => new IoFrameReader(new OneByteAtATimeStream(frame[..length])).ReadAsync().AsTask());

        Assert.Contains("payload", error.Message);
    }

    [Theory]
    [InlineData("0005000000000000" + "0000")]
    [InlineData("FFFF000000000000" + "0000")]
    public async Task An_unknown_frame_type_is_refused(string header)
    {
        var bytes = Convert.FromHexString(header);

        Assert.Contains("type", Assert.Throws<SlurmProtocolException>(() => IoHeader.Read(bytes)).Message);
        await Assert.ThrowsAsync<SlurmProtocolException>(() => new IoFrameReader(new MemoryStream(bytes)).ReadAsync().AsTask());
    }

    [Theory]
    [InlineData(IoHeader.MaxPayload + 1u)]
    [InlineData(uint.MaxValue)]
    public async Task A_payload_over_1024_bytes_is_refused_before_it_is_read(uint length)
    {
        var frame = Frame(new IoHeader(IoStreamType.Stdout, 0, 0, length), new byte[IoHeader.MaxPayload + 1]);

        var error = await Assert.ThrowsAsync<SlurmProtocolException>(() => new IoFrameReader(new MemoryStream(frame)).ReadAsync().AsTask());

        Assert.Contains("1024", error.Message);
    }

    [Fact]
    public async Task A_payload_of_exactly_1024_bytes_is_read()
    {
        var payload = Enumerable.Range(0, IoHeader.MaxPayload).Select(i => (byte)i).ToArray();

        var frame = await new IoFrameReader(new MemoryStream(Frame(new IoHeader(IoStreamType.Stdout, 2, 1, IoHeader.MaxPayload), payload))).ReadAsync();

        Assert.NotNull(frame);
        Assert.Equal(new IoHeader(IoStreamType.Stdout, 2, 1, IoHeader.MaxPayload), frame.Header);
        Assert.Equal(payload, frame.Payload.ToArray());
    }

    [Fact]
    public void A_connection_test_with_a_payload_is_refused()
    {
        var header = Frame(new IoHeader(IoStreamType.ConnectionTest, 0, 0, 1), [0]);

        Assert.Contains("connection test", Assert.Throws<SlurmProtocolException>(() => IoHeader.Read(header)).Message);
    }

    [Fact]
    public void A_header_packs_its_fields_big_endian_and_reads_back()
    {
        var header = new IoHeader(IoStreamType.Stderr, 3, 1, 17);
        var bytes = new byte[IoHeader.Size];

        header.Write(bytes);

        Assert.Equal("0002" + "0003" + "0001" + "00000011", Convert.ToHexString(bytes));
        Assert.Equal(header, IoHeader.Read(bytes));
        Assert.False(header.IsEndOfStream);
        Assert.True((header with { Length = 0 }).IsEndOfStream);
    }

    [Fact]
    public async Task A_connection_test_is_an_empty_type_4_frame_and_ends_nothing()
    {
        using var stream = new MemoryStream();

        await IoFrameWriter.WriteConnectionTestAsync(stream);

        Assert.Equal("0004" + "0000" + "0000" + "00000000", Convert.ToHexString(stream.ToArray()));
        stream.Position = 0;
        var frame = await new IoFrameReader(stream).ReadAsync();
        Assert.NotNull(frame);
        Assert.Equal(IoStreamType.ConnectionTest, frame.Type);
        Assert.False(frame.IsEndOfStream);
    }

    [Fact]
    public async Task Stdin_of_2500_bytes_goes_as_frames_of_1024_1024_and_452()
    {
        var data = Enumerable.Range(0, 2500).Select(i => (byte)(i * 7)).ToArray();
        using var stream = new MemoryStream();

        await IoFrameWriter.WriteStdinAsync(stream, data);

        Assert.Equal(3 * IoHeader.Size + data.Length, stream.Length);
        stream.Position = 0;
        var frames = await ReadAllAsync(new IoFrameReader(stream));
        Assert.Equal([1024u, 1024u, 452u], frames.Select(frame => frame.Header.Length));
        Assert.All(frames, frame => Assert.Equal(new IoHeader(IoStreamType.AllStdin, IoHeader.AllTasks, IoHeader.AllTasks, frame.Header.Length), frame.Header));
        Assert.Equal(data, frames.SelectMany(frame => frame.Payload.ToArray()));
    }

    [Fact]
    public async Task Empty_stdin_writes_nothing_because_its_end_is_explicit()
    {
        using var stream = new MemoryStream();

        await IoFrameWriter.WriteStdinAsync(stream, ReadOnlyMemory<byte>.Empty);
        Assert.Equal(0, stream.Length);

        await IoFrameWriter.WriteStdinEndAsync(stream);
        Assert.Equal("0003" + "FFFF" + "FFFF" + "00000000", Convert.ToHexString(stream.ToArray()));
    }

    [Fact]
    public async Task Task_output_is_split_at_1024_bytes_and_keeps_its_task_ids()
    {
        var data = Enumerable.Range(0, 1500).Select(i => (byte)i).ToArray();
        using var stream = new MemoryStream();

        await IoFrameWriter.WriteOutputAsync(stream, IoStreamType.Stderr, data, globalTaskId: 5, localTaskId: 2);

        stream.Position = 0;
        var frames = await ReadAllAsync(new IoFrameReader(stream));
        Assert.Equal(
            [new IoHeader(IoStreamType.Stderr, 5, 2, 1024), new IoHeader(IoStreamType.Stderr, 5, 2, 476)],
            frames.Select(frame => frame.Header));
        Assert.Equal(data, frames.SelectMany(frame => frame.Payload.ToArray()));
    }

    [Theory]
    [InlineData(IoStreamType.Stdin)]
    [InlineData(IoStreamType.AllStdin)]
    [InlineData(IoStreamType.ConnectionTest)]
    public async Task Task_output_is_only_stdout_or_stderr(IoStreamType type)
    {
        using var stream = new MemoryStream();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => IoFrameWriter.WriteOutputAsync(stream, type, "x"u8.ToArray()));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => IoFrameWriter.WriteOutputEndAsync(stream, type));
        Assert.Equal(0, stream.Length);
    }

    [Fact]
    public void Validation_accepts_the_right_key_version_and_node()
    {
        var init = new IoInitMessage(ProtocolVersion.V24_11, NodeId: 1, 1, 1, "MUNGE:key:\0"u8.ToArray());

        Assert.Null(init.Validate("MUNGE:key:\0"u8, nodeCount: 2));
    }

    [Fact]
    public void Validation_refuses_another_key()
    {
        var key = "MUNGE:key:\0"u8.ToArray();
        var init = new IoInitMessage(ProtocolVersion.V24_11, 0, 1, 1, key);
        var oneBitOff = key.ToArray();
        oneBitOff[7] ^= 1;

        Assert.Contains("key", init.Validate(oneBitOff, nodeCount: 1));
        Assert.Contains("key", init.Validate(key.AsSpan(0, key.Length - 1), nodeCount: 1));
        Assert.Contains("key", init.Validate([], nodeCount: 1));
    }

    [Fact]
    public void Validation_refuses_a_node_outside_the_step()
    {
        var init = new IoInitMessage(ProtocolVersion.V22_05, NodeId: 2, 1, 1, "k\0"u8.ToArray());

        Assert.Null(init.Validate("k\0"u8, nodeCount: 3));
        Assert.Contains("node id 2", init.Validate("k\0"u8, nodeCount: 2));
        Assert.Contains("node id 2", init.Validate("k\0"u8, nodeCount: 0));
    }

    [Fact]
    public void Validation_refuses_a_version_older_than_22_05()
    {
        var init = new IoInitMessage(new ProtocolVersion(0x2500), 0, 1, 1, "k\0"u8.ToArray());

        Assert.Contains("0x2500", init.Validate("k\0"u8, nodeCount: 1));
        Assert.Null((init with { Version = ProtocolVersion.V22_05 }).Validate("k\0"u8, nodeCount: 1));
    }

    [Theory]
    [InlineData("00000011")] // one short of the fixed fields
    [InlineData("00010001")] // just over 64 KiB
    [InlineData("FFFFFFFF")]
    public async Task An_init_length_outside_the_fields_or_the_cap_is_refused_before_allocating(string prefix)
    {
        var stream = new MemoryStream(Convert.FromHexString(prefix));

        var error = await Assert.ThrowsAsync<SlurmProtocolException>(() => IoInitMessage.ReadAsync(stream));

        Assert.Contains("length", error.Message);
        Assert.Equal(4, stream.Position);
    }

    [Fact]
    public async Task An_init_message_with_bytes_after_its_key_is_refused()
    {
        var encoded = new IoInitMessage(ProtocolVersion.V24_11, 0, 1, 1, "k\0"u8.ToArray()).Encode();
        var longer = encoded.Append((byte)0).ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(longer, (uint)(longer.Length - 4));

        var error = await Assert.ThrowsAsync<SlurmProtocolException>(() => IoInitMessage.ReadAsync(new MemoryStream(longer)));

        Assert.Contains("1 unexpected bytes", error.Message);
    }

    [Fact]
    public async Task An_init_key_longer_than_the_message_is_refused()
    {
        var encoded = new IoInitMessage(ProtocolVersion.V24_11, 0, 1, 1, "k\0"u8.ToArray()).Encode();
        BinaryPrimitives.WriteUInt32BigEndian(encoded.AsSpan(encoded.Length - 6), 3);

        await Assert.ThrowsAsync<SlurmProtocolException>(() => IoInitMessage.ReadAsync(new MemoryStream(encoded)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(21)]
    [InlineData(23)]
    public async Task An_init_message_cut_short_is_refused(int length)
    {
        var encoded = new IoInitMessage(ProtocolVersion.V24_11, 0, 1, 1, "k:\0"u8.ToArray()).Encode();
        Assert.Equal(25, encoded.Length);

        await Assert.ThrowsAsync<SlurmProtocolException>(() => IoInitMessage.ReadAsync(new OneByteAtATimeStream(encoded[..length])));
    }

    [Fact]
    public async Task A_key_without_its_nul_is_a_mem_before_23_11_and_refused_as_a_str_after()
    {
        var memKey = new IoInitMessage(ProtocolVersion.V22_05, 0, 1, 1, "key"u8.ToArray()).Encode();
        var strKey = memKey.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(strKey.AsSpan(4), ProtocolVersion.V23_11.Value);

        var decoded = await IoInitMessage.ReadAsync(new MemoryStream(memKey));
        var error = await Assert.ThrowsAsync<SlurmProtocolException>(() => IoInitMessage.ReadAsync(new MemoryStream(strKey)));

        Assert.Equal("key"u8.ToArray(), decoded.Key);
        Assert.Contains("NUL", error.Message);
        Assert.Throws<InvalidOperationException>(() => (decoded with { Version = ProtocolVersion.V23_11 }).Encode());
    }

    [Fact]
    public void The_connection_is_finished_after_one_stdout_and_one_stderr_eof()
    {
        var tracker = new EndOfStreamTracker(stdoutObjects: 1, stderrObjects: 1);

        Assert.False(tracker.IsFinished);
        Assert.False(tracker.Observe(new IoHeader(IoStreamType.Stdout, 0, 0, 4)));
        Assert.False(tracker.Observe(new IoHeader(IoStreamType.ConnectionTest, 0, 0, 0)));
        Assert.False(tracker.Observe(new IoHeader(IoStreamType.Stdout, 0, 0, 0)));
        Assert.Equal((0u, 1u), (tracker.StdoutRemaining, tracker.StderrRemaining));
        Assert.False(tracker.Observe(new IoHeader(IoStreamType.Stderr, 0, 0, 3)));
        Assert.True(tracker.Observe(new IoHeader(IoStreamType.Stderr, 0, 0, 0)));
        Assert.True(tracker.IsFinished);
    }

    [Fact]
    public void With_a_pty_the_connection_is_finished_after_one_stdout_eof()
    {
        var tracker = EndOfStreamTracker.For(new IoInitMessage(ProtocolVersion.V22_05, 0, StdoutObjects: 1, StderrObjects: 0, "k\0"u8.ToArray()));

        Assert.False(tracker.IsFinished);
        Assert.True(tracker.Observe(new IoHeader(IoStreamType.Stdout, 0, 0, 0)));
    }

    [Fact]
    public void An_eof_for_a_stream_that_was_not_announced_is_refused()
    {
        var tracker = new EndOfStreamTracker(stdoutObjects: 1, stderrObjects: 0);

        var error = Assert.Throws<SlurmProtocolException>(() => tracker.Observe(new IoHeader(IoStreamType.Stderr, 0, 0, 0)));

        Assert.Contains("stderr", error.Message);
        Assert.Equal(1u, tracker.StdoutRemaining);
    }

    [Fact]
    public void A_window_of_90_columns_and_30_rows_is_005a001e()
    {
        var record = new WindowSize(Columns: 90, Rows: 30).Encode();

        Assert.Equal("005A001E", Convert.ToHexString(record));
        Assert.Equal(new WindowSize(90, 30), WindowSize.Decode(record));
        Assert.Throws<SlurmProtocolException>(() => WindowSize.Decode(record.AsSpan(0, 3)));
    }

    private static byte[] Frame(IoHeader header, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[IoHeader.Size + payload.Length];
        header.Write(frame);
        payload.CopyTo(frame.AsSpan(IoHeader.Size));
        return frame;
    }

    private static async Task<IoFrame[]> ReadAllAsync(IoFrameReader reader)
    {
        var frames = new List<IoFrame>();
        while (await reader.ReadAsync() is { } frame)
        {
            frames.Add(frame);
        }
        return [.. frames];
    }

    private static string Describe(IoFrame frame) =>
        $"{frame.Type} {(frame.IsEndOfStream ? "EOF" : Encoding.ASCII.GetString(frame.Payload.Span))}";

    /// <summary>A peer whose every read returns a single byte, as a slow socket may.</summary>
    private sealed class OneByteAtATimeStream(byte[] bytes) : Stream
    {
        private int _position;

        public int Reads { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            Reads++;
            if (buffer.IsEmpty || _position == bytes.Length)
            {
                return 0;
            }
            buffer[0] = bytes[_position++];
            return 1;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
