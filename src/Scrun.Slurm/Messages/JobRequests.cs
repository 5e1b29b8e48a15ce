using Scrun.Slurm.Interop;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Messages;

/// <summary><c>REQUEST_RESOURCE_ALLOCATION</c> (4001): ask for an interactive allocation.</summary>
public sealed record ResourceAllocationRequest(JobDescriptor Job) : ISlurmRequest
{
    public MessageType Type => MessageType.RequestResourceAllocation;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version) => Job.Write(writer, version);
}

/// <summary><c>REQUEST_SUBMIT_BATCH_JOB</c> (4003): submit a batch job (the script runs in the container when <c>container</c> is set).</summary>
public sealed record SubmitBatchJobRequest(JobDescriptor Job) : ISlurmRequest
{
    public MessageType Type => MessageType.RequestSubmitBatchJob;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version) => Job.Write(writer, version);
}

/// <summary><c>RESPONSE_SUBMIT_BATCH_JOB</c> (4004).</summary>
public sealed record SubmitBatchJobResponse(uint JobId, uint StepId, int ErrorCode, string? JobSubmitUserMessage)
    : ISlurmRequest, ISlurmReply<SubmitBatchJobResponse>
{
    public MessageType Type => MessageType.ResponseSubmitBatchJob;

    public static bool Accepts(MessageType type) => type == MessageType.ResponseSubmitBatchJob;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU32(JobId);
        writer.WriteU32(StepId);
        writer.WriteU32(unchecked((uint)ErrorCode));
        writer.WriteString(JobSubmitUserMessage);
    }

    public static SubmitBatchJobResponse ReadBody(ref SlurmReader reader, ProtocolVersion version) =>
        new(reader.ReadU32(), reader.ReadU32(), unchecked((int)reader.ReadU32()), reader.ReadString());
}

/// <summary><c>REQUEST_JOB_ALLOCATION_INFO</c> (4014): where is this job running? (<c>ESLURM_JOB_PENDING</c> while it waits).</summary>
public sealed record JobAllocationInfoRequest(uint JobId, string? Cluster = null) : ISlurmRequest, ISlurmReply<JobAllocationInfoRequest>
{
    public MessageType Type => MessageType.RequestJobAllocationInfo;

    public static bool Accepts(MessageType type) => type == MessageType.RequestJobAllocationInfo;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU32(JobId);
        writer.WriteString(Cluster);
    }

    public static JobAllocationInfoRequest ReadBody(ref SlurmReader reader, ProtocolVersion version) => new(reader.ReadU32(), reader.ReadString());
}

/// <summary><c>REQUEST_JOB_READY</c> (4019): are the job's nodes up and its prolog done?</summary>
public sealed record JobReadyRequest(uint JobId, ushort ShowFlags = 0) : ISlurmRequest, ISlurmReply<JobReadyRequest>
{
    public MessageType Type => MessageType.RequestJobReady;

    public static bool Accepts(MessageType type) => type == MessageType.RequestJobReady;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU32(JobId);
        writer.WriteU16(ShowFlags);
    }

    public static JobReadyRequest ReadBody(ref SlurmReader reader, ProtocolVersion version) => new(reader.ReadU32(), reader.ReadU16());
}

/// <summary><c>RESPONSE_JOB_READY</c> (4020): <c>READY_NODE_STATE</c> 1 | <c>READY_JOB_STATE</c> 2 | <c>READY_PROLOG_STATE</c> 4.</summary>
public sealed record JobReadyResponse(uint Bits) : ISlurmRequest, ISlurmReply<JobReadyResponse>
{
    public const uint NodesReady = 1;
    public const uint JobReady = 2;

    public MessageType Type => MessageType.ResponseJobReady;

    public bool IsReady => (Bits & (NodesReady | JobReady)) == (NodesReady | JobReady);

    public static bool Accepts(MessageType type) => type == MessageType.ResponseJobReady;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version) => writer.WriteU32(Bits);

    public static JobReadyResponse ReadBody(ref SlurmReader reader, ProtocolVersion version) => new(reader.ReadU32());
}

/// <summary>
/// <c>REQUEST_KILL_JOB</c> (5032) or <c>REQUEST_CANCEL_JOB_STEP</c> (5005): a signal for a job or one
/// of its steps. For a whole job scancel sends the step id as all NO_VAL and the job as text.
/// </summary>
public sealed record JobStepKillRequest(MessageType Type, StepId Step, string? JobIdText, Signal Signal, ushort Flags, string? Sibling = null)
    : ISlurmRequest, ISlurmReply<JobStepKillRequest>
{
    public const ushort KillFullJob = 0x0008;

    /// <summary>What scancel sends to signal a whole job.</summary>
    public static JobStepKillRequest ForJob(uint jobId, Signal signal, ushort flags = 0) =>
        new(MessageType.RequestKillJob, new StepId(NoValue.U32), jobId.ToString(System.Globalization.CultureInfo.InvariantCulture), signal, flags);

    /// <summary>Signal one step of a job (its processes on the nodes, not srun).</summary>
    public static JobStepKillRequest ForStep(uint jobId, uint step, Signal signal, ushort flags = 0) =>
        new(MessageType.RequestCancelJobStep, new StepId(jobId, step), null, signal, flags);

    public static bool Accepts(MessageType type) => type is MessageType.RequestKillJob or MessageType.RequestCancelJobStep;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        Step.Write(writer, version);
        writer.WriteString(JobIdText);
        writer.WriteString(Sibling);
        writer.WriteU16((ushort)Signal.Number);
        writer.WriteU16(Flags);
    }

    public static JobStepKillRequest ReadBody(ref SlurmReader reader, ProtocolVersion version)
    {
        var step = StepId.Read(ref reader, version);
        var jobIdText = reader.ReadString();
        var sibling = reader.ReadString();
        return new JobStepKillRequest(MessageType.RequestKillJob, step, jobIdText, reader.ReadSignal(), reader.ReadU16(), sibling);
    }
}

/// <summary><c>REQUEST_COMPLETE_JOB_ALLOCATION</c> (5017): release an allocation, recording its exit code.</summary>
public sealed record CompleteJobAllocationRequest(uint JobId, int ReturnCode) : ISlurmRequest, ISlurmReply<CompleteJobAllocationRequest>
{
    public MessageType Type => MessageType.RequestCompleteJobAllocation;

    public static bool Accepts(MessageType type) => type == MessageType.RequestCompleteJobAllocation;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU32(JobId);
        writer.WriteU32(unchecked((uint)ReturnCode));
    }

    public static CompleteJobAllocationRequest ReadBody(ref SlurmReader reader, ProtocolVersion version) =>
        new(reader.ReadU32(), unchecked((int)reader.ReadU32()));
}

/// <summary><c>REQUEST_JOB_INFO_SINGLE</c> (2021): one job's record (<c>SHOW_LOCAL</c> 0x10 as scontrol sends outside federations).</summary>
public sealed record JobInfoRequest(uint JobId, ushort ShowFlags = JobInfoRequest.ShowLocal) : ISlurmRequest
{
    public const ushort ShowLocal = 0x0010;

    public MessageType Type => MessageType.RequestJobInfoSingle;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU32(JobId);
        writer.WriteU16(ShowFlags);
    }
}
