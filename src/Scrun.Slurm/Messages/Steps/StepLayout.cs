using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Messages.Steps;

/// <summary>
/// <c>slurm_step_layout_t</c>: which nodes a step runs on and which global task ids each node runs.
/// From 23.11 it also carries the compacted cpus-per-task arrays and <c>net_cred</c>, signed node
/// addresses of dynamic and cloud nodes.
/// </summary>
public sealed record StepLayout(
    string? FrontEnd,
    string NodeList,
    uint NodeCount,
    ProtocolVersion StartProtocolVersion,
    uint TaskCount,
    uint TaskDistribution,
    IReadOnlyList<uint[]> TaskIds,
    ushort[] CpusPerTaskCompact,
    uint[] CpusPerTaskRepetitions,
    string? NetworkCredential)
{
    /// <summary>Far above any step scrun launches; a hostile count must not allocate gigabytes.</summary>
    public const int MaxNodes = 65536;

    public void Write(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU16(1);
        writer.WriteString(FrontEnd);
        writer.WriteString(NodeList);
        writer.WriteU32(NodeCount);
        writer.WriteU16(StartProtocolVersion.Value);
        writer.WriteU32(TaskCount);
        writer.WriteU32(TaskDistribution);
        foreach (var ids in TaskIds)
        {
            writer.WriteU32Array(ids);
        }
        if (version >= ProtocolVersion.V23_11)
        {
            writer.WriteU16Array(CpusPerTaskCompact);
            writer.WriteU32Array(CpusPerTaskRepetitions);
            writer.WriteString(NetworkCredential);
        }
    }

    /// <summary>Null when the message says no layout follows.</summary>
    public static StepLayout? Read(ref SlurmReader reader, ProtocolVersion version)
    {
        if (reader.ReadU16() == 0)
        {
            return null;
        }
        var frontEnd = reader.ReadString();
        var nodeList = reader.ReadString() ?? throw new SlurmProtocolException("step layout without a node list");
        var nodeCount = reader.ReadU32();
        if (nodeCount == 0 || nodeCount > MaxNodes)
        {
            throw new SlurmProtocolException($"step layout of {nodeCount} nodes");
        }
        var startVersion = new ProtocolVersion(reader.ReadU16());
        var taskCount = reader.ReadU32();
        var distribution = reader.ReadU32();
        var taskIds = new uint[nodeCount][];
        for (var node = 0; node < nodeCount; node++)
        {
            taskIds[node] = reader.ReadU32Array();
        }
        ushort[] compact = [];
        uint[] repetitions = [];
        string? networkCredential = null;
        if (version >= ProtocolVersion.V23_11)
        {
            compact = reader.ReadU16Array();
            repetitions = reader.ReadU32Array();
            networkCredential = reader.ReadString();
        }
        return new StepLayout(frontEnd, nodeList, nodeCount, startVersion, taskCount, distribution, taskIds, compact, repetitions, networkCredential);
    }
}
