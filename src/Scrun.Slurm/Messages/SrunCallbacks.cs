using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Messages;

/// <summary>
/// What slurmctld sends to an allocating client's ports (<c>alloc_resp_port</c>, <c>other_port</c>),
/// decoded: a pushed grant, pings, warnings and the end of the job.
/// </summary>
public abstract record SrunCallback
{
    /// <summary>Decodes a callback; null for types a client answers with an error and otherwise ignores.</summary>
    public static SrunCallback? Read(MessageType type, ref SlurmReader reader, ProtocolVersion version) => type switch
    {
        MessageType.SrunPing => new SrunPing(),
        MessageType.SrunTimeout => new SrunTimeout(StepId.Read(ref reader, version), reader.ReadTime()),
        MessageType.SrunNodeFail => new SrunNodeFail(StepId.Read(ref reader, version), reader.ReadString()),
        MessageType.SrunJobComplete => new SrunJobComplete(StepId.Read(ref reader, version)),
        MessageType.SrunUserMessage => new SrunUserMessage(reader.ReadU32(), reader.ReadString()),
        MessageType.ResponseResourceAllocation => new AllocationGranted(ResourceAllocationResponse.ReadBody(ref reader, version)),
        _ => null,
    };

    /// <summary>Packs a callback the way slurmctld does (used by the in-process fake controller).</summary>
    public abstract void Write(SlurmWriter writer, ProtocolVersion version);

    public abstract MessageType Type { get; }
}

/// <summary><c>SRUN_PING</c>: answer <c>RESPONSE_SLURM_RC</c> 0 or the job may be killed as inactive.</summary>
public sealed record SrunPing : SrunCallback
{
    public override MessageType Type => MessageType.SrunPing;

    public override void Write(SlurmWriter writer, ProtocolVersion version)
    {
    }
}

/// <summary><c>SRUN_TIMEOUT</c>: the job (or step) will reach its time limit at <see cref="Timeout"/>.</summary>
public sealed record SrunTimeout(StepId Step, long Timeout) : SrunCallback
{
    public override MessageType Type => MessageType.SrunTimeout;

    public override void Write(SlurmWriter writer, ProtocolVersion version)
    {
        Step.Write(writer, version);
        writer.WriteTime(Timeout);
    }
}

/// <summary><c>SRUN_NODE_FAIL</c>: nodes of the job failed.</summary>
public sealed record SrunNodeFail(StepId Step, string? Nodes) : SrunCallback
{
    public override MessageType Type => MessageType.SrunNodeFail;

    public override void Write(SlurmWriter writer, ProtocolVersion version)
    {
        Step.Write(writer, version);
        writer.WriteString(Nodes);
    }
}

/// <summary><c>SRUN_JOB_COMPLETE</c>: the job ended, was cancelled, or its pending allocation was revoked.</summary>
public sealed record SrunJobComplete(StepId Step) : SrunCallback
{
    public override MessageType Type => MessageType.SrunJobComplete;

    public override void Write(SlurmWriter writer, ProtocolVersion version) => Step.Write(writer, version);
}

/// <summary><c>SRUN_USER_MSG</c>: a text for the user (e.g. from a job_submit plugin).</summary>
public sealed record SrunUserMessage(uint JobId, string? Message) : SrunCallback
{
    public override MessageType Type => MessageType.SrunUserMessage;

    public override void Write(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU32(JobId);
        writer.WriteString(Message);
    }
}

/// <summary>A pending allocation was granted: <c>RESPONSE_RESOURCE_ALLOCATION</c> pushed to <c>alloc_resp_port</c>.</summary>
public sealed record AllocationGranted(ResourceAllocationResponse Allocation) : SrunCallback
{
    public override MessageType Type => MessageType.ResponseResourceAllocation;

    public override void Write(SlurmWriter writer, ProtocolVersion version) => Allocation.WriteBody(writer, version);
}
