using Scrun.Containers.Anchor;
using Scrun.Slurm;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Steps;
using Scrun.Slurm.Wire;
using Scrun.Tests.Slurm;
using Scrun.Tests.Slurm.Steps;
using Serilog;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>The job a container runs in, its own or an existing allocation, against a fake 24.11 slurmctld.</summary>
public sealed class JobSessionTests : IAsyncLifetime // xunit 2 never calls IAsyncDisposable
{
    private const uint Job = 42;
    private static readonly ProtocolVersion s_version = ProtocolVersion.V24_11;

    private readonly FakeSlurmctld _slurmctld;

    public JobSessionTests() => _slurmctld = new FakeSlurmctld(Answer);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _slurmctld.DisposeAsync();

    [Fact]
    public async Task A_container_in_an_existing_allocation_gets_the_variables_one_in_its_own_allocation_gets()
    {
        await using var own = Session();
        await own.AllocateAsync(new JobDescriptor { Name = "scrun", MinNodes = 2 }, _ => { }, CancellationToken.None);
        await using var joined = Session();
        await joined.JoinAsync(Job, new Dictionary<string, string>(), CancellationToken.None);

        var ownPlacement = Assert.IsType<JobPlacement>(own.Placement);
        var joinedPlacement = Assert.IsType<JobPlacement>(joined.Placement);

        Assert.Equal((2u, 1901u, 1901u), (joinedPlacement.NodeCount, joinedPlacement.UserId, joinedPlacement.GroupId));
        Assert.Equal(["BB_DIR=/bb"], joinedPlacement.Allocation.Environment);
        Assert.Equal(ownPlacement.Allocation.Environment, joinedPlacement.Allocation.Environment);
        var facts = LauncherEnvironmentTests.Facts(s_version) with { Container = "/srv/bundle", ContainerId = "c1" };
        var inOwn = LauncherEnvironment.Build(facts with { Allocation = ownPlacement.Allocation }, ["PATH=/bin"]);
        var inJoined = LauncherEnvironment.Build(facts with { Allocation = joinedPlacement.Allocation }, ["PATH=/bin"]);
        Assert.Equal(inOwn, inJoined);
        Assert.Contains("SLURM_JOB_CPUS_PER_NODE=2(x2)", inJoined);
        Assert.DoesNotContain(inOwn, e => e.StartsWith("SLURM_STEPMGR=", StringComparison.Ordinal)); // the allocation's reply has it, srun's lookup not
    }

    private JobSession Session() =>
        new(new SlurmController(FakeSlurmctld.Config(_slurmctld.Port, "127.0.0.1"), new StubAuthenticator(), s_version), _ => { }, new LoggerConfiguration().CreateLogger());

    private static ResourceAllocationResponse Allocation(bool fromAllocationReply) => new()
    {
        JobId = Job,
        NodeCount = 2,
        NodeList = "n[1-2]",
        Partition = "debug",
        CpusPerNode = [2],
        CpuCountRepetitions = [2],
        UserId = 1901,
        GroupId = 1901,
        Environment = fromAllocationReply ? ["SLURM_STEPMGR=n1", "BB_DIR=/bb"] : ["BB_DIR=/bb"],
    };

    private static FakeReply Answer(SlurmMessage request) => request.Type switch
    {
        MessageType.RequestResourceAllocation => Reply(MessageType.ResponseResourceAllocation, w => Allocation(fromAllocationReply: true).WriteBody(w, s_version)),
        MessageType.RequestJobAllocationInfo => Reply(MessageType.ResponseJobAllocationInfo, w => Allocation(fromAllocationReply: false).WriteBody(w, s_version)),
        MessageType.RequestJobInfoSingle => Reply(MessageType.ResponseJobInfo, WriteRunningJob),
        MessageType.RequestJobReady => new FakeReply.Bytes(FakeSlurmctld.Frame(s_version, new JobReadyResponse(JobReadyResponse.NodesReady | JobReadyResponse.JobReady))),
        _ => FakeReply.ReturnCode(s_version, 0),
    };

    private static void WriteRunningJob(SlurmWriter writer)
    {
        writer.WriteU32(1); // one record
        writer.WriteRaw(new byte[16]); // last_update, last_backfill
        var job = new JobInfo { JobId = Job, UserId = 1901, GroupId = 1901, RawState = (uint)JobState.Running, Nodes = "n[1-2]" };
        JobInfo.LayoutFor(s_version).Write(writer, job, s_version);
    }

    private static FakeReply.Bytes Reply(MessageType type, Action<SlurmWriter> body)
    {
        var writer = new SlurmWriter();
        body(writer);
        return new FakeReply.Bytes(SlurmFrame.Encode(s_version, type, writer.WrittenSpan, null, MessageHeader.NoAuthCredential));
    }
}
