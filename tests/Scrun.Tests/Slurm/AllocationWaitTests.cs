using Scrun.Slurm;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

/// <summary>
/// Waiting for a pending job against the fake controller, in the interleavings a real one
/// produces only by chance: the job starting between two questions, a controller restarting.
/// </summary>
public class AllocationWaitTests
{
    private static readonly ProtocolVersion s_version = ProtocolVersion.V22_05;

    private static SlurmController Client(FakeSlurmctld fake) =>
        new(FakeSlurmctld.Config(fake.Port, "127.0.0.1"), new StubAuthenticator(), s_version);

    [Fact]
    public async Task A_job_that_starts_between_the_allocation_question_and_the_job_question_is_granted()
    {
        // Asked for its allocation, the job pends; asked for its record a moment later, it runs.
        var allocationQuestions = 0;
        await using var fake = new FakeSlurmctld(request => request.Type switch
        {
            MessageType.RequestJobAllocationInfo => Interlocked.Increment(ref allocationQuestions) == 1
                ? FakeReply.ReturnCode(request.Version, SlurmErrors.JobPending)
                : new FakeReply.Bytes(Granted(1)),
            MessageType.RequestJobInfoSingle => new FakeReply.Bytes(RunningJobRecord()),
            _ => FakeReply.ReturnCode(request.Version, SlurmErrors.UnexpectedMessage),
        });

        var allocation = await Client(fake).WaitForAllocationAsync(1, listener: null, TimeSpan.FromHours(1), _ => Assert.Fail("the job never pended in its record"));

        Assert.True(allocation.IsGranted);
        Assert.Equal(1u, allocation.JobId);
        Assert.Equal(
            [MessageType.RequestJobAllocationInfo, MessageType.RequestJobInfoSingle, MessageType.RequestJobAllocationInfo],
            fake.Received.Select(r => r.Type));
    }

    [Fact]
    public async Task A_job_that_ended_while_pending_ends_the_wait()
    {
        await using var fake = new FakeSlurmctld(request => request.Type == MessageType.RequestJobAllocationInfo
            ? FakeReply.ReturnCode(request.Version, SlurmErrors.JobPending)
            : new FakeReply.Bytes(JobRecordIn(JobState.Cancelled)));

        var error = await Assert.ThrowsAsync<SlurmException>(() => Client(fake).WaitForAllocationAsync(1, null, TimeSpan.FromHours(1), _ => { }));

        Assert.Equal(SlurmErrors.AlreadyDone, error.ErrorNumber);
        Assert.Contains("Cancelled", error.Message);
    }

    [Fact]
    public async Task A_controller_that_hangs_up_during_the_wait_is_waited_for_within_the_outage_budget()
    {
        // Two questions find no controller (a restart), then the job is granted.
        var questions = 0;
        await using var fake = new FakeSlurmctld(request => Interlocked.Increment(ref questions) <= 2
            ? new FakeReply.Close()
            : new FakeReply.Bytes(Granted(1)));

        var allocation = await Client(fake).WaitForAllocationAsync(1, null, TimeSpan.FromHours(1), _ => { }, outage: new ControllerOutage(TimeSpan.FromHours(1)));

        Assert.Equal(1u, allocation.JobId);
        Assert.Equal(3, fake.Received.Count);
    }

    [Fact]
    public async Task Without_an_outage_budget_a_missing_controller_ends_the_wait_at_once()
    {
        await using var fake = new FakeSlurmctld(_ => new FakeReply.Close());

        await Assert.ThrowsAsync<SlurmUnreachableException>(() =>
            Client(fake).WaitForAllocationAsync(1, null, TimeSpan.FromHours(1), _ => { }, outage: new ControllerOutage(TimeSpan.Zero)));
        Assert.Single(fake.Received);
    }

    [Fact]
    public async Task An_outage_budget_does_not_retry_a_refusal()
    {
        await using var fake = new FakeSlurmctld(request => FakeReply.ReturnCode(request.Version, SlurmErrors.InvalidJobId));

        await Assert.ThrowsAsync<SlurmException>(() =>
            Client(fake).WaitForAllocationAsync(1, null, TimeSpan.FromHours(1), _ => { }, outage: new ControllerOutage(TimeSpan.FromHours(1))));
        Assert.Single(fake.Received);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Only_missing_controllers_and_munged_are_an_outage(bool transient)
    {
        Exception e = transient
            ? new MungeException("cannot connect to munged", MungeException.SocketError)
            : new MungeException("credential expired", MungeException.CredentialExpired);
        Assert.Equal(transient, ControllerOutage.IsTransient(e));
        Assert.True(ControllerOutage.IsTransient(new SlurmUnreachableException("no controller")));
        Assert.False(ControllerOutage.IsTransient(new SlurmException(SlurmErrors.InvalidJobId)));
    }

    [Fact]
    public void The_outage_budget_is_SlurmctldTimeout_and_never_under_two_minutes()
    {
        Assert.Equal(TimeSpan.FromMinutes(2), ControllerOutage.For(TimeSpan.FromSeconds(30)).Budget);
        Assert.Equal(TimeSpan.FromSeconds(300), ControllerOutage.For(TimeSpan.FromSeconds(300)).Budget);
    }

    private static byte[] Granted(uint job)
    {
        var body = new SlurmWriter();
        new ResourceAllocationResponse { JobId = job, NodeCount = 1, NodeList = "n1" }.WriteBody(body, s_version);
        return SlurmFrame.Encode(s_version, MessageType.ResponseJobAllocationInfo, body.WrittenSpan, new MungeCredentialText("MUNGE:fake:"));
    }

    /// <summary>22.05's record of job 1, running (captured from slurmctld).</summary>
    private static byte[] RunningJobRecord() =>
        CapturedFrames.Frame("2205", CapturedFrames.Nth("2205", "request_job_info_single", 1, ".resp"));

    /// <summary>The same record in another state: job_state is the u32 at offset 76 of 22.05's body (fixtures/README.md).</summary>
    private static byte[] JobRecordIn(JobState state)
    {
        var frame = RunningJobRecord();
        var body = SlurmFrame.Decode(frame.AsSpan(SlurmFrame.LengthPrefixSize)).Body;
        frame[frame.Length - body.Length + 76 + 3] = (byte)state;
        return frame;
    }
}
