using System.Text;
using Scrun.Slurm;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm.Steps;

/// <summary>
/// Every message of a step launch against the frames of a real <c>srun</c> step on 22.05, 24.11 and
/// 26.05: decoded exactly, each value where srun put it, and encoded back byte for byte.
/// </summary>
public class StepMessageTests
{
    public static TheoryData<string> Releases() => [.. CapturedSteps.Releases];

    [Theory]
    [MemberData(nameof(Releases))]
    public void Step_create_request_is_what_srun_sends_from_the_defaults(string release)
    {
        var message = StepFrame(release, "5001-5002-step_create.txt", "out_frame");
        Assert.Equal(CapturedSteps.VersionOf(release), message.Version);
        var reader = new SlurmReader(message.Body);
        var captured = JobStepCreateRequest.ReadBody(ref reader, message.Version);
        reader.EnsureConsumed("5001");

        Assert.Equal(release == "2205" ? 1901u : JobStepCreateRequest.AuthenticatedUser, captured.UserId);
        Assert.Equal(NoValue.U32, captured.StepNumber);
        Assert.Equal("sh", captured.Name);
        Assert.Equal("vm", captured.Host);
        Assert.Equal("cpu:1", captured.TresPerStep);
        Assert.NotEqual(0, captured.Port);

        // Only what differs per step is set: everything else is srun's value by default.
        var ours = new JobStepCreateRequest
        {
            Sluid = captured.Sluid,
            JobId = captured.JobId,
            UserId = captured.UserId,
            Port = captured.Port,
            LauncherPid = captured.LauncherPid,
            Host = "vm",
            Name = "sh",
            SubmitLine = captured.SubmitLine,
            WorkingDirectory = captured.WorkingDirectory,
        };
        Assert.Equal(message.Body, Encode(ours, message.Version));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void Step_create_reply_gives_the_layout_and_the_credential_verbatim(string release)
    {
        var message = StepFrame(release, "5001-5002-step_create.txt", "in_frame");
        var reader = new SlurmReader(message.Body);
        var reply = JobStepCreateResponse.ReadBody(ref reader, message.Version);
        reader.EnsureConsumed("5002");

        Assert.Equal(release == "2205" ? 5u : 3u, reply.Step.StepNumber);
        Assert.Equal("n1", reply.Layout.NodeList);
        Assert.Equal(1u, reply.Layout.NodeCount);
        Assert.Equal(message.Version, reply.Layout.StartProtocolVersion);
        Assert.Equal([0u], Assert.Single(reply.Layout.TaskIds));
        Assert.Null(reply.Layout.NetworkCredential);
        Assert.Equal(release switch { "2205" => 816, "2411" => 889, _ => 895 }, reply.Credential.Length);
        Assert.Equal(release == "2205" ? 528 : 572, reply.IoKey.Length);
        Assert.StartsWith("MUNGE:", Encoding.ASCII.GetString(reply.IoKey), StringComparison.Ordinal);
        Assert.Equal(message.Version, reply.CredentialVersion);
        if (release == "2205")
        {
            Assert.Equal(109u, reply.SelectPluginId);
            Assert.Equal(ProtocolVersion.V22_05, reply.UseProtocolVersion);
        }
        Assert.Equal(message.Body, Encode(reply, message.Version));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void The_io_key_slurmstepd_sends_back_is_the_credentials_signature(string release)
    {
        var message = StepFrame(release, "5001-5002-step_create.txt", "in_frame");
        var reader = new SlurmReader(message.Body);
        var key = JobStepCreateResponse.ReadBody(ref reader, message.Version).IoKey;

        var stream = CapturedSteps.Single(release, "io-stream", "in_raw");
        Assert.True(stream.AsSpan().IndexOf(key) > 0, "the I/O init message carries the signature");
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void Launch_is_what_srun_sends_built_from_the_step_create_reply(string release)
    {
        var version = CapturedSteps.VersionOf(release);
        var created = StepFrame(release, "5001-5002-step_create.txt", "in_frame");
        var createReader = new SlurmReader(created.Body);
        var step = JobStepCreateResponse.ReadBody(ref createReader, created.Version);

        var message = StepFrame(release, "6001-launch_tasks.txt", "out_frame");
        Assert.Equal(version, message.Version);
        var reader = new SlurmReader(message.Body);
        var captured = LaunchTasksRequest.ReadBody(ref reader, message.Version, step.Credential.Length);
        reader.EnsureConsumed("6001");

        Assert.Equal(step.Credential, captured.Credential);
        Assert.Equal(step.Step.StepNumber, captured.StepNumber);
        Assert.Equal(["sh", "-c", "cat; echo out; echo err >&2; exit 3"], captured.Arguments);
        Assert.Equal(LaunchTasksRequest.BufferedIo, captured.Flags);
        Assert.Equal("n1", captured.CompleteNodeList);
        Assert.Single(captured.ResponsePorts);
        Assert.Single(captured.IoPorts);
        Assert.Contains(captured.Environment, e => e.StartsWith("SLURM_STEP_ID=", StringComparison.Ordinal));
        if (release == "2205")
        {
            Assert.Equal(1901u, captured.UserId);
            Assert.Equal(1901u, captured.GroupId);
        }

        var ours = new LaunchTasksRequest
        {
            Sluid = step.Step.Sluid,
            JobId = captured.JobId,
            StepNumber = step.Step.StepNumber,
            UserId = captured.UserId,
            GroupId = captured.GroupId,
            MpiPluginId = captured.MpiPluginId, // 24.11 and 26.05 srun send NO_VAL; slurmd accepts both
            NodeCount = step.Layout.NodeCount,
            TaskCount = step.Layout.TaskCount,
            CpusPerTaskCompact = step.Layout.CpusPerTaskCompact,
            CpusPerTaskRepetitions = step.Layout.CpusPerTaskRepetitions,
            CredentialVersion = step.CredentialVersion,
            Credential = step.Credential,
            TaskIds = step.Layout.TaskIds,
            SelectPluginId = step.SelectPluginId,
            ResponsePorts = captured.ResponsePorts,
            IoPorts = captured.IoPorts,
            Environment = captured.Environment,
            WorkingDirectory = captured.WorkingDirectory,
            Arguments = captured.Arguments,
            SlurmdDebug = captured.SlurmdDebug,
            CompleteNodeList = step.Layout.NodeList,
            StepManager = step.StepManager,
        };
        Assert.Equal(message.Body, Encode(ours, message.Version));

        var reply = StepFrame(release, "6001-launch_tasks.txt", "in_frame");
        Assert.Equal(MessageType.ResponseSlurmRcMessage, reply.Type);
        var replyReader = new SlurmReader(reply.Body);
        Assert.Equal(new ReturnCode(0, null), ReturnCode.ReadBody(ref replyReader, reply.Version));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void Launch_response_and_task_exit_come_back_on_the_response_port(string release)
    {
        var launched = StepFrame(release, "resp-6002-launch_response.txt", "in_frame");
        Assert.True(LaunchTasksResponse.Accepts(launched.Type));
        var reader = new SlurmReader(launched.Body);
        var response = LaunchTasksResponse.ReadBody(ref reader, launched.Version);
        reader.EnsureConsumed("6002");
        Assert.Equal(0, response.ReturnCode);
        Assert.Equal("n1", response.NodeName);
        Assert.Single(response.LocalPids);
        Assert.Equal([0u], response.TaskIds);
        Assert.Equal(launched.Body, Encode(response, launched.Version));

        var exited = StepFrame(release, "resp-6003-task_exit.txt", "in_frame");
        Assert.True(TaskExitMessage.Accepts(exited.Type));
        reader = new SlurmReader(exited.Body);
        var exit = TaskExitMessage.ReadBody(ref reader, exited.Version);
        reader.EnsureConsumed("6003");
        Assert.Equal(0x300u, exit.WaitStatus);
        Assert.Equal(3, exit.ExitCode);
        Assert.Equal([0u], exit.TaskIds);
        Assert.Equal(response.Step, exit.Step);
        Assert.Equal(exited.Body, Encode(exit, exited.Version));

        foreach (var file in new[] { "resp-6002-launch_response.txt", "resp-6003-task_exit.txt" })
        {
            var ack = StepFrame(release, file, "out_frame");
            Assert.Equal(MessageType.ResponseSlurmRc, ack.Type);
            Assert.Equal(release == "2205", ack.Header.HasAuthSection);
            Assert.Equal(Encode(new ReturnCode(0), ack.Version), ack.Body);
        }
    }

    [Theory]
    [InlineData(0x0300u, 3)]
    [InlineData(0x0000u, 0)]
    [InlineData(0x0009u, 137)]
    [InlineData(0x000Fu, 143)]
    [InlineData(0x008Bu, 139)] // SIGSEGV with a core dump
    [InlineData(TaskExitMessage.OutOfMemory, 137)]
    public void Wait_status_becomes_the_containers_exit_code(uint status, int exitCode) =>
        Assert.Equal(exitCode, new TaskExitMessage(status, [0], new StepId(1, 0)).ExitCode);

    [Fact]
    public void Step_complete_is_what_slurmstepd_sends()
    {
        var message = CapturedFrames.Message("2205", "008-request_step_complete.req.hex");
        var reader = new SlurmReader(message.Body);
        var complete = StepCompleteRequest.ReadBody(ref reader, message.Version);
        reader.EnsureConsumed("5016");
        Assert.Equal(new StepCompleteRequest(new StepId(1, 0), 0, 0, 0), complete);
        Assert.Equal(message.Body, Encode(complete, message.Version));
    }

    [Theory]
    [InlineData("2411")]
    [InlineData("2505")]
    public void Step_create_request_and_reply_of_the_other_captures_decode(string release)
    {
        var version = CapturedFrames.VersionOf(release);
        var request = CapturedFrames.Message(release, "007-request_job_step_create.req.hex");
        var reader = new SlurmReader(request.Body);
        var decoded = JobStepCreateRequest.ReadBody(ref reader, version);
        reader.EnsureConsumed("5001");
        Assert.Equal("true", decoded.Name);
        Assert.Equal(request.Body, Encode(decoded, version));

        var reply = CapturedFrames.Message(release, "007-request_job_step_create.resp.hex");
        reader = new SlurmReader(reply.Body);
        var created = JobStepCreateResponse.ReadBody(ref reader, reply.Version);
        reader.EnsureConsumed("5002");
        Assert.Equal(new StepId(1, 0), created.Step);
        Assert.Equal(version, created.UseProtocolVersion);
        Assert.Equal(reply.Body, Encode(created, reply.Version));
    }

    [Fact]
    public void A_switch_plugin_after_the_credential_is_refused_not_misread()
    {
        var body = StepFrame("2205", "5001-5002-step_create.txt", "in_frame").Body;
        body[^3] = 0x65; // switch plugin 101 in place of switch/none (100)
        var error = Assert.Throws<SlurmProtocolException>(() => Decode(body, ProtocolVersion.V22_05));
        Assert.Contains("switch", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reply_in_a_release_the_launcher_does_not_read_is_refused()
    {
        var body = StepFrame("2411", "5001-5002-step_create.txt", "in_frame").Body;
        var error = Assert.Throws<SlurmProtocolException>(() => Decode(body, ProtocolVersion.V23_11));
        Assert.Contains("23.11", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_26_05_reply_without_a_credential_is_refused()
    {
        var message = StepFrame("2605", "5001-5002-step_create.txt", "in_frame");
        var reader = new SlurmReader(message.Body);
        var reply = JobStepCreateResponse.ReadBody(ref reader, message.Version);
        var writer = new SlurmWriter();
        reply.WriteBody(writer, message.Version);
        var body = writer.ToArray();
        var flag = body.Length - 4 - reply.Credential.Length - 1;
        Assert.Equal(1, body[flag]);
        body[flag] = 0;
        Assert.Throws<SlurmProtocolException>(() => Decode(body, ProtocolVersion.V26_05));
    }

    [Fact]
    public void The_signature_of_a_token_credential_is_the_whole_token()
    {
        var writer = new SlurmWriter();
        writer.WriteString("eyJhbGciOiJIUzI1NiJ9.e30.c2ln");
        Assert.Equal("eyJhbGciOiJIUzI1NiJ9.e30.c2ln\0"u8.ToArray(), JobStepCreateResponse.FindSignature(writer.ToArray()));
        Assert.Null(JobStepCreateResponse.FindSignature([1, 2, 3, 4, 5, 6, 7]));
    }

    [Fact]
    public void Signal_to_a_step_packs_its_id_then_flags_then_signal()
    {
        var request = SignalTasksRequest.ForStep(new StepId(7, 2), Signal.Terminate);
        Assert.Equal(
            Convert.FromHexString("00000007" + "00000002" + "fffffffe" + "0000" + "000f"),
            Encode(request, ProtocolVersion.V22_05));
        Assert.Equal(
            Convert.FromHexString("0000000000000000" + "00000007" + "00000002" + "fffffffe" + "0000" + "000f"),
            Encode(request, ProtocolVersion.V24_11));
    }

    private static JobStepCreateResponse Decode(byte[] body, ProtocolVersion version)
    {
        var reader = new SlurmReader(body);
        return JobStepCreateResponse.ReadBody(ref reader, version);
    }

    private static byte[] Encode(ISlurmRequest message, ProtocolVersion version)
    {
        var writer = new SlurmWriter();
        message.WriteBody(writer, version);
        return writer.ToArray();
    }

    private static SlurmMessage StepFrame(string release, string file, string tag) =>
        SlurmFrame.Decode(CapturedSteps.Single(release, file, tag).AsSpan(SlurmFrame.LengthPrefixSize));
}
