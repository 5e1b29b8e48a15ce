using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Messages;

/// <summary>
/// <c>slurm_step_id_t</c>: job, step and het component; from 24.11 a u64 <c>sluid</c> comes first
/// (0 from clients). <see cref="NoValue.U32"/> as the step means the whole job.
/// </summary>
public readonly record struct StepId(uint JobId, uint StepNumber = NoValue.U32, uint HetComponent = NoValue.U32, ulong Sluid = 0)
{
    public static StepId WholeJob(uint jobId) => new(jobId);

    public bool IsWholeJob => StepNumber == NoValue.U32;

    public void Write(SlurmWriter writer, ProtocolVersion version)
    {
        if (version >= ProtocolVersion.V24_11)
        {
            writer.WriteU64(Sluid);
        }
        writer.WriteU32(JobId);
        writer.WriteU32(StepNumber);
        writer.WriteU32(HetComponent);
    }

    public static StepId Read(ref SlurmReader reader, ProtocolVersion version)
    {
        var sluid = version >= ProtocolVersion.V24_11 ? reader.ReadU64() : 0;
        return new StepId(reader.ReadU32(), reader.ReadU32(), reader.ReadU32(), sluid);
    }

    public override string ToString() => IsWholeJob ? $"{JobId}" : $"{JobId}.{StepNumber}";
}
