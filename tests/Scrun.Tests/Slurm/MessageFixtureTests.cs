using Scrun.Slurm;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

/// <summary>Each message type against what real clients and controllers of each release put on the wire.</summary>
public class MessageFixtureTests
{
    public static TheoryData<string> Releases() => new(CapturedFrames.Releases);

    private static SlurmMessage Nth(string release, string kind, int occurrence, string direction = ".resp") =>
        CapturedFrames.Message(release, CapturedFrames.Nth(release, kind, occurrence, direction));

    private static byte[] RequestBody(string release, string kind, int occurrence = 1) => Nth(release, kind, occurrence, ".req").Body;

    private static byte[] Pack(Action<SlurmWriter> write)
    {
        var writer = new SlurmWriter();
        write(writer);
        return writer.ToArray();
    }

    [Theory]
    [InlineData("2205", "request_resource_allocation", 1)]
    [InlineData("2205", "request_resource_allocation", 2)]
    [InlineData("2205", "request_resource_allocation", 3)]
    [InlineData("2205", "request_resource_allocation", 4)]
    [InlineData("2205", "request_submit_batch_job", 1)]
    [InlineData("2411", "request_resource_allocation", 1)]
    [InlineData("2411", "request_resource_allocation", 2)]
    [InlineData("2411", "request_resource_allocation", 3)]
    [InlineData("2411", "request_resource_allocation", 4)]
    [InlineData("2411", "request_submit_batch_job", 1)]
    [InlineData("2505", "request_resource_allocation", 1)]
    [InlineData("2505", "request_resource_allocation", 2)]
    [InlineData("2505", "request_resource_allocation", 3)]
    [InlineData("2505", "request_resource_allocation", 4)]
    [InlineData("2505", "request_submit_batch_job", 1)]
    public void Job_descriptors_from_salloc_and_sbatch_unpack_and_pack_back_identically(string release, string kind, int occurrence)
    {
        var version = CapturedFrames.VersionOf(release);
        var body = RequestBody(release, kind, occurrence);
        var reader = new SlurmReader(body);

        var job = JobDescriptor.Read(ref reader, version);

        reader.EnsureConsumed("job_desc");
        Assert.Equal(Convert.ToHexString(body), Convert.ToHexString(Pack(w => job.Write(w, version))));
        Assert.StartsWith("fx", job.Name);
        Assert.Equal(5u, job.TimeLimit);
        Assert.Equal(kind == "request_submit_batch_job" ? NoValue.U32 : 1u, job.MinNodes);
        Assert.Equal(version >= ProtocolVersion.V24_11 ? NoValue.AuthNobody : 0u, job.UserId);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void A_new_descriptor_has_libslurms_defaults_and_the_use_default_bits(string release)
    {
        var version = CapturedFrames.VersionOf(release);
        var captured = RequestBody(release, "request_resource_allocation");
        var reader = new SlurmReader(captured);
        var salloc = JobDescriptor.Read(ref reader, version);

        var ours = new JobDescriptor();

        Assert.Equal(NoValue.U32, ours.TimeLimit);
        Assert.Equal(NoValue.U64, ours.MinMemoryPerNode);
        Assert.Equal(NoValue.U8, ours.Overcommit);
        Assert.Equal(NoValue.U16, ours.Requeue);
        Assert.Equal(0x1E000000UL, salloc.BitFlags & 0x1E000000UL);
        var packed = Pack(w => ours.Write(w, version));
        var back = new SlurmReader(packed);
        Assert.Equal(0x1E000000UL, JobDescriptor.Read(ref back, version).BitFlags);
        back.EnsureConsumed("job_desc");
    }

    [Theory]
    [InlineData("2205", 1)]
    [InlineData("2205", 2)]
    [InlineData("2205", 3)]
    [InlineData("2205", 4)]
    [InlineData("2411", 1)]
    [InlineData("2411", 2)]
    [InlineData("2411", 3)]
    [InlineData("2411", 4)]
    [InlineData("2505", 1)]
    [InlineData("2505", 2)]
    [InlineData("2505", 3)]
    [InlineData("2505", 4)]
    public void Allocation_responses_unpack_and_pack_back_identically(string release, int occurrence)
    {
        var version = CapturedFrames.VersionOf(release);
        var message = Nth(release, "request_resource_allocation", occurrence);
        Assert.True(ResourceAllocationResponse.Accepts(message.Type));

        var response = SlurmController.Decode<ResourceAllocationResponse>(message);

        Assert.True(response.JobId > 0);
        Assert.Equal(Convert.ToHexString(message.Body), Convert.ToHexString(Pack(w => response.WriteBody(w, version))));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void A_granted_allocation_names_its_node_and_partition(string release)
    {
        var response = SlurmController.Decode<ResourceAllocationResponse>(Nth(release, "request_resource_allocation", 1));

        Assert.True(response.IsGranted);
        Assert.Equal(1u, response.JobId);
        Assert.Equal("n1", response.NodeList);
        Assert.Equal("n1", response.BatchHost);
        Assert.Equal("debug", response.Partition);
        Assert.Equal([(ushort)1], response.CpusPerNode);
        Assert.Equal(release == "2205" ? null : "root", response.UserName);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void A_pending_allocation_has_a_job_id_and_no_nodes(string release)
    {
        // the fourth salloc: --begin=now+1hour
        var response = SlurmController.Decode<ResourceAllocationResponse>(Nth(release, "request_resource_allocation", 4));

        Assert.False(response.IsGranted);
        Assert.Equal(5u, response.JobId);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void A_running_job_record_yields_what_a_runtime_needs(string release)
    {
        var version = CapturedFrames.VersionOf(release);
        var job = SlurmController.Decode<JobInfoResponse>(Nth(release, "request_job_info_single", 1)).Job;

        Assert.NotNull(job);
        Assert.Equal(1u, job.JobId);
        Assert.Equal(0u, job.UserId);
        Assert.Equal(JobState.Running, job.State);
        Assert.Equal("n1", job.Nodes);
        Assert.Equal("debug", job.Partition);
        Assert.Equal("n1", job.BatchHost);
        Assert.Equal(5u, job.TimeLimitMinutes);
        Assert.Equal(300, job.EndTime - job.StartTime);
        Assert.Equal(0u, job.ExitCode);
        Assert.Equal(version >= ProtocolVersion.V24_11 ? "fxjob" : null, job.Name);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void A_pending_job_record_has_its_reason(string release)
    {
        // the third "scontrol show job": the job of salloc --begin=now+1hour, pending for its begin time
        var job = SlurmController.Decode<JobInfoResponse>(Nth(release, "request_job_info_single", 3)).Job;

        Assert.NotNull(job);
        Assert.Equal(5u, job.JobId);
        Assert.Equal(JobState.Pending, job.State);
        Assert.NotEqual(0u, job.StateReason);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void Scancel_signal_requests_are_what_we_send(string release)
    {
        var version = CapturedFrames.VersionOf(release);
        // scancel -s USR1 1, then scancel 1 (SIGKILL)
        var usr1 = RequestBody(release, "request_kill_job", 1);
        var kill = RequestBody(release, "request_kill_job", 2);

        var reader = new SlurmReader(usr1);
        var decoded = JobStepKillRequest.ReadBody(ref reader, version);
        Assert.Equal(new Signal(10), decoded.Signal);
        Assert.Equal("1", decoded.JobIdText);

        Assert.Equal(Convert.ToHexString(usr1), Convert.ToHexString(Pack(w => JobStepKillRequest.ForJob(1, new Signal(10), decoded.Flags).WriteBody(w, version))));
        reader = new SlurmReader(kill);
        var killFlags = JobStepKillRequest.ReadBody(ref reader, version).Flags;
        Assert.Equal(Convert.ToHexString(kill), Convert.ToHexString(Pack(w => JobStepKillRequest.ForJob(1, Signal.Kill, killFlags).WriteBody(w, version))));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void Small_requests_match_the_captured_bytes(string release)
    {
        var version = CapturedFrames.VersionOf(release);
        Assert.Empty(RequestBody(release, "request_ping"));
        Assert.Equal(Convert.ToHexString(RequestBody(release, "request_job_ready")), Convert.ToHexString(Pack(w => new JobReadyRequest(1).WriteBody(w, version))));
        Assert.Equal(Convert.ToHexString(RequestBody(release, "request_job_info_single")), Convert.ToHexString(Pack(w => new JobInfoRequest(1).WriteBody(w, version))));
        Assert.Equal(Convert.ToHexString(RequestBody(release, "request_complete_job_allocation")), Convert.ToHexString(Pack(w => new CompleteJobAllocationRequest(2, 0).WriteBody(w, version))));
        var cluster = release switch { "2205" => "fx2205", "2411" => "fx2411", _ => "fx2505" };
        Assert.Equal(Convert.ToHexString(RequestBody(release, "request_job_allocation_info")), Convert.ToHexString(Pack(w => new JobAllocationInfoRequest(5, cluster).WriteBody(w, version))));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void Small_replies_decode(string release)
    {
        var ready = SlurmController.Decode<JobReadyResponse>(Nth(release, "request_job_ready", 1));
        Assert.True(ready.IsReady);
        Assert.Equal(7u, ready.Bits);

        SlurmController.ExpectSuccess(Nth(release, "request_ping", 1));

        var alreadyDone = Assert.Throws<SlurmException>(() => SlurmController.ExpectSuccess(Nth(release, "request_job_allocation_info", 1)));
        Assert.Equal(SlurmErrors.AlreadyDone, alreadyDone.ErrorNumber);

        // sbatch --hold: accepted, with the job held
        var batch = SlurmController.Decode<SubmitBatchJobResponse>(Nth(release, "request_submit_batch_job", 1));
        Assert.Equal(6u, batch.JobId);
        Assert.Equal("ESLURM_JOB_HELD", SlurmErrors.Name(batch.ErrorCode));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void Callbacks_decode(string release)
    {
        var version = CapturedFrames.VersionOf(release);
        var ping = Nth(release, "srun_ping", 1, ".req");
        var reader = new SlurmReader(ping.Body);
        Assert.IsType<SrunPing>(SrunCallback.Read(ping.Type, ref reader, version));

        var completions = CapturedFrames.AllOf(release, "srun_job_complete", ".req").ToList();
        Assert.True(completions.Count >= 3);
        foreach (var name in completions)
        {
            var complete = CapturedFrames.Message(release, name);
            reader = new SlurmReader(complete.Body);
            var decoded = Assert.IsType<SrunJobComplete>(SrunCallback.Read(complete.Type, ref reader, version));
            reader.EnsureConsumed("srun_job_complete");
            Assert.Contains(decoded.Step.JobId, new uint[] { 2, 4, 5 });
            Assert.True(decoded.Step.IsWholeJob);
            Assert.Equal(Convert.ToHexString(complete.Body), Convert.ToHexString(Pack(w => decoded.Write(w, version))));
        }

        // salloc's answer to SRUN_PING: RESPONSE_SLURM_RC 0, flag NO_AUTH_CRED from 24.11.
        var answer = Nth(release, "srun_ping", 1);
        Assert.Equal(Convert.ToHexString(answer.Body), Convert.ToHexString(Pack(w => new ReturnCode(0).WriteBody(w, version))));
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void The_munge_payload_is_the_k12_message_hash(string release)
    {
        // The decoded payloads of these captured credentials are recorded in the fixtures' README.
        Assert.Equal("025D5247BBB9AE435B2674A601F4A615DE08D36C074C352457612D21DB790784F9",
            Convert.ToHexString(MessageHash.Compute(MessageType.RequestPing, RequestBody(release, "request_ping"))));
        Assert.Equal("02C081F77A1022A634B70E8BABCCA23E115ACE51EC23E1303A33EABF0379D2568A",
            Convert.ToHexString(MessageHash.Compute(MessageType.RequestJobInfoSingle, RequestBody(release, "request_job_info_single"))));
    }
}
