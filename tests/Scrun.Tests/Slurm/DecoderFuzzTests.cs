using CsCheck;
using Scrun.Slurm;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

/// <summary>
/// Random and mutated frames must only ever produce a typed protocol error: no index out of
/// range, no overflow, no huge allocation, no hang.
/// </summary>
public class DecoderFuzzTests
{
    private static readonly byte[][] s_captured = CapturedFrames.All()
        .Select(f => CapturedFrames.Frame(f.Release, f.Name)[SlurmFrame.LengthPrefixSize..])
        .Concat(CapturedStepFrames())
        .ToArray();

    private static IEnumerable<byte[]> CapturedStepFrames() =>
        from release in CapturedSteps.Releases
        from file in new[] { "5001-5002-step_create", "6001-launch_tasks", "resp-6002-launch_response", "resp-6003-task_exit" }
        from tag in new[] { "out_frame", "in_frame" }
        from frame in CapturedSteps.Lines(release, file, tag)
        select frame[SlurmFrame.LengthPrefixSize..];

    [Fact]
    public void Random_bytes_never_crash_the_frame_decoder()
    {
        Gen.Byte.Array[0, 600].Sample(bytes => DecodeExpectingOnlyProtocolErrors(bytes), iter: 20_000);
    }

    [Fact]
    public void Mutated_captured_frames_never_crash_any_decoder()
    {
        var mutation = Gen.Select(
            Gen.Int[0, s_captured.Length - 1],
            Gen.Int[0, 1_000_000].Array[1, 6],
            Gen.Byte.Array[6],
            Gen.Int[0, 100]);
        mutation.Sample((frame, positions, values, keepPercent) =>
        {
            var bytes = (byte[])s_captured[frame].Clone();
            for (var i = 0; i < positions.Length; i++)
            {
                bytes[positions[i] % bytes.Length] = values[i];
            }
            DecodeExpectingOnlyProtocolErrors(bytes[..(bytes.Length * keepPercent / 100)]);
            DecodeExpectingOnlyProtocolErrors(bytes);
        }, iter: 20_000);
    }

    [Fact]
    public void Every_captured_body_read_in_every_format_fails_cleanly_or_succeeds()
    {
        foreach (var frame in s_captured)
        {
            DecodeExpectingOnlyProtocolErrors(frame);
        }
    }

    private static void DecodeExpectingOnlyProtocolErrors(byte[] bytes)
    {
        SlurmMessage message;
        try
        {
            message = SlurmFrame.Decode(bytes);
        }
        catch (SlurmProtocolException)
        {
            return;
        }
        foreach (var version in ProtocolVersion.Supported)
        {
            TryAll(message.Body, message.Type, version);
        }
    }

    private static void TryAll(byte[] body, MessageType type, ProtocolVersion version)
    {
        Try(body, (ref SlurmReader r) => JobDescriptor.Read(ref r, version));
        Try(body, (ref SlurmReader r) => ResourceAllocationResponse.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => JobInfoResponse.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => JobStepKillRequest.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => SubmitBatchJobResponse.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => ReturnCode.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => SrunCallback.Read(type, ref r, version));
        Try(body, (ref SlurmReader r) => SrunCallback.Read(MessageType.SrunNodeFail, ref r, version));
        Try(body, (ref SlurmReader r) => SrunCallback.Read(MessageType.SrunTimeout, ref r, version));
        Try(body, (ref SlurmReader r) => SrunCallback.Read(MessageType.ResponseResourceAllocation, ref r, version));
        Try(body, (ref SlurmReader r) => JobStepCreateRequest.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => JobStepCreateResponse.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => LaunchTasksRequest.ReadBody(ref r, version, Math.Min(r.Remaining, 816)));
        Try(body, (ref SlurmReader r) => LaunchTasksResponse.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => TaskExitMessage.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => StepCompleteRequest.ReadBody(ref r, version));
        Try(body, (ref SlurmReader r) => SignalTasksRequest.ReadBody(ref r, version));
    }

    private delegate object? Decoder(ref SlurmReader reader);

    private static void Try(byte[] body, Decoder decode)
    {
        try
        {
            var reader = new SlurmReader(body);
            decode(ref reader);
        }
        catch (SlurmProtocolException)
        {
        }
    }
}
