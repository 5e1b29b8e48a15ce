using System.Net;
using Scrun.Slurm;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

/// <summary>Every message type, written and read back in every format the client speaks.</summary>
public class RoundTripTests
{
    public static TheoryData<ushort> Versions() => new(ProtocolVersion.Supported.Select(v => v.Value));

    private static byte[] Pack(Action<SlurmWriter> write)
    {
        var writer = new SlurmWriter();
        write(writer);
        return writer.ToArray();
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void A_job_descriptor_with_every_kind_of_field_set(ushort value)
    {
        var version = new ProtocolVersion(value);
        var job = new JobDescriptor
        {
            Name = "name with spaces and ünïcode",
            Container = "/srv/bundle",
            ContainerId = "abc",
            Environment = ["A=1", "B=", ""],
            Argv = ["/bin/sh", "-c", "exit 3"],
            MinMemoryPerNode = 1UL << 40,
            BeginTime = 1_800_000_000,
            TimeLimit = 60,
            OomKillStep = 1,
            SegmentSize = 2,
            ReservedPortCount = 3,
            AllocTlsCertificate = null,
            UserId = 1000,
            GroupId = 1000,
        };
        var bytes = Pack(w => job.Write(w, version));

        var reader = new SlurmReader(bytes);
        var back = JobDescriptor.Read(ref reader, version);

        reader.EnsureConsumed("job_desc");
        Assert.Equal(Convert.ToHexString(bytes), Convert.ToHexString(Pack(w => back.Write(w, version))));
        Assert.Equal(job.Name, back.Name);
        Assert.Equal(job.Argv, back.Argv);
        Assert.Equal(job.MinMemoryPerNode, back.MinMemoryPerNode);
        Assert.Equal(version >= ProtocolVersion.V23_02 ? "abc" : null, back.ContainerId);
        Assert.Equal(version >= ProtocolVersion.V24_11 ? (ushort)1 : NoValue.U16, back.OomKillStep);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void An_allocation_response_with_addresses_and_cpu_groups(ushort value)
    {
        var version = new ProtocolVersion(value);
        var response = new ResourceAllocationResponse
        {
            JobId = 9,
            NodeCount = 2,
            NodeList = "n[1-2]",
            NodeAddresses = version < ProtocolVersion.V25_05 && version < ProtocolVersion.V23_11
                ? [new IPEndPoint(IPAddress.Parse("10.1.2.3"), 6818), new IPEndPoint(IPAddress.Parse("::1"), 6818)]
                : null,
            CpusPerNode = [2, 4],
            CpuCountRepetitions = [1, 1],
            UserName = version >= ProtocolVersion.V23_11 ? "alice" : null,
            TresPerTask = version >= ProtocolVersion.V25_05 ? "cpu=1" : null,
        };
        var bytes = Pack(w => response.WriteBody(w, version));

        var reader = new SlurmReader(bytes);
        var back = ResourceAllocationResponse.ReadBody(ref reader, version);

        reader.EnsureConsumed("allocation");
        Assert.Equal(Convert.ToHexString(bytes), Convert.ToHexString(Pack(w => back.WriteBody(w, version))));
        Assert.Equal(response.NodeAddresses, back.NodeAddresses);
        Assert.Equal([(ushort)2, (ushort)4], back.CpusPerNode);
    }

    [Fact]
    public void Ipv4_addresses_are_byte_swapped_the_way_slurm_packs_them()
    {
        var bytes = Pack(w => SlurmAddress.Write(w, new IPEndPoint(IPAddress.Parse("10.1.2.3"), 6817)));
        Assert.Equal("0002" + "0302010A" + "A11A", Convert.ToHexString(bytes));
        var reader = new SlurmReader(bytes);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 6817), SlurmAddress.Read(ref reader));
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Small_messages_and_callbacks(ushort value)
    {
        var version = new ProtocolVersion(value);
        ISlurmRequest[] requests =
        [
            JobStepKillRequest.ForJob(12, Signal.Terminate, JobStepKillRequest.KillFullJob),
            JobStepKillRequest.ForStep(12, 0, new Signal(10)),
            new CompleteJobAllocationRequest(12, 3 << 8),
            new JobReadyRequest(12),
            new JobReadyResponse(7),
            new JobAllocationInfoRequest(12, "cluster"),
            new SubmitBatchJobResponse(12, 0, 0, "queued"),
            new ReturnCode(-1, "message"),
            new ReturnCode(2017),
        ];
        foreach (var request in requests)
        {
            var bytes = Pack(w => request.WriteBody(w, version));
            var reader = new SlurmReader(bytes);
            ISlurmRequest back = request switch
            {
                JobStepKillRequest => JobStepKillRequest.ReadBody(ref reader, version) with { Type = request.Type },
                CompleteJobAllocationRequest => CompleteJobAllocationRequest.ReadBody(ref reader, version),
                JobReadyRequest => JobReadyRequest.ReadBody(ref reader, version),
                JobReadyResponse => JobReadyResponse.ReadBody(ref reader, version),
                JobAllocationInfoRequest => JobAllocationInfoRequest.ReadBody(ref reader, version),
                SubmitBatchJobResponse => SubmitBatchJobResponse.ReadBody(ref reader, version),
                _ => ReturnCode.ReadBody(ref reader, version),
            };
            reader.EnsureConsumed(request.GetType().Name);
            Assert.Equal(request, back);
        }

        SrunCallback[] callbacks =
        [
            new SrunPing(),
            new SrunTimeout(new StepId(5, 0), 1_800_000_000),
            new SrunNodeFail(StepId.WholeJob(5), "n2"),
            new SrunJobComplete(StepId.WholeJob(5)),
            new SrunUserMessage(5, "hello"),
        ];
        foreach (var callback in callbacks)
        {
            var bytes = Pack(w => callback.Write(w, version));
            var reader = new SlurmReader(bytes);
            Assert.Equal(callback, SrunCallback.Read(callback.Type, ref reader, version));
            reader.EnsureConsumed(callback.GetType().Name);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public void A_kill_request_for_no_signal_is_refused(int number)
    {
        var bytes = Pack(w => JobStepKillRequest.ForJob(12, Signal.Terminate).WriteBody(w, ProtocolVersion.V24_11));
        bytes[^3] = (byte)number; // the signal's low byte: the flags (u16) come last
        Assert.Throws<SlurmProtocolException>(() =>
        {
            var reader = new SlurmReader(bytes);
            JobStepKillRequest.ReadBody(ref reader, ProtocolVersion.V24_11);
        });
    }
}
