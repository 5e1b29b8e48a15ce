using System.Net;
using Scrun.Slurm.Wire;
using F = Scrun.Slurm.Wire.WireFields<Scrun.Slurm.Messages.ResourceAllocationResponse>;

namespace Scrun.Slurm.Messages;

/// <summary>
/// <c>RESPONSE_RESOURCE_ALLOCATION</c> (4002, also pushed to <c>alloc_resp_port</c> when a pending
/// job starts) and <c>RESPONSE_JOB_ALLOCATION_INFO</c> (4015). <see cref="NodeCount"/> 0 means the
/// job is still pending.
/// </summary>
public sealed class ResourceAllocationResponse : ISlurmReply<ResourceAllocationResponse>
{
    public string? Account { get; set; }

    public string? AliasList { get; set; }

    public string? BatchHost { get; set; }

    public IReadOnlyList<string>? Environment { get; set; }

    public int ErrorCode { get; set; }

    public uint GroupId { get; set; }

    public string? GroupName { get; set; }

    public string? JobSubmitUserMessage { get; set; }

    public uint JobId { get; set; }

    public uint NodeCount { get; set; }

    /// <summary>22.05 only, when the controller sends them: one address per node.</summary>
    public IReadOnlyList<IPEndPoint?>? NodeAddresses { get; set; }

    public string? NodeList { get; set; }

    public ushort TasksPerBoard { get; set; }

    public ushort TasksPerCore { get; set; }

    public ushort TasksPerTres { get; set; }

    public ushort TasksPerSocket { get; set; }

    public IReadOnlyList<ushort> CpusPerNode { get; set; } = [];

    public IReadOnlyList<uint> CpuCountRepetitions { get; set; } = [];

    public string? Partition { get; set; }

    public ulong MinMemoryPerNode { get; set; }

    public string? Qos { get; set; }

    public string? ReservationName { get; set; }

    public string? TresPerNode { get; set; }

    public string? TresPerTask { get; set; }

    public uint UserId { get; set; }

    public string? UserName { get; set; }

    public bool IsGranted => NodeCount > 0;

    /// <summary>Whether the response names the job's owner (<see cref="UserId"/>, <see cref="GroupId"/>): from 23.11 on.</summary>
    public static bool NamesOwner(ProtocolVersion version) => s_withIds.Contains(version);

    public static bool Accepts(MessageType type) =>
        type is MessageType.ResponseResourceAllocation or MessageType.ResponseJobAllocationInfo;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version) => Layout.Write(writer, this, version);

    public static ResourceAllocationResponse ReadBody(ref SlurmReader reader, ProtocolVersion version)
    {
        var response = new ResourceAllocationResponse();
        Layout.Read(ref reader, response, version);
        return response;
    }

    private static readonly VersionRange s_withIds = VersionRange.From(ProtocolVersion.V23_11);

    internal static readonly WireLayout<ResourceAllocationResponse> Layout = new(
        "resource_allocation_response",
        F.Str("account", static r => r.Account, static (r, v) => r.Account = v),
        F.Str("alias_list", static r => r.AliasList, static (r, v) => r.AliasList = v, VersionRange.Until(ProtocolVersion.V25_05)),
        F.Str("batch_host", static r => r.BatchHost, static (r, v) => r.BatchHost = v),
        F.StrArray("environment", static r => r.Environment, static (r, v) => r.Environment = v),
        F.U32("error_code", static r => unchecked((uint)r.ErrorCode), static (r, v) => r.ErrorCode = unchecked((int)v)),
        F.U32("gid", static r => r.GroupId, static (r, v) => r.GroupId = v, s_withIds),
        F.Str("group_name", static r => r.GroupName, static (r, v) => r.GroupName = v, s_withIds),
        F.Str("job_submit_user_msg", static r => r.JobSubmitUserMessage, static (r, v) => r.JobSubmitUserMessage = v),
        F.U32("job_id", static r => r.JobId, static (r, v) => r.JobId = v),
        F.U32("node_cnt", static r => r.NodeCount, static (r, v) => r.NodeCount = v),
        F.Custom("node_addr", WriteNodeAddresses, ReadNodeAddresses, VersionRange.Until(ProtocolVersion.V25_05)),
        F.Str("node_list", static r => r.NodeList, static (r, v) => r.NodeList = v),
        F.U16("ntasks_per_board", static r => r.TasksPerBoard, static (r, v) => r.TasksPerBoard = v),
        F.U16("ntasks_per_core", static r => r.TasksPerCore, static (r, v) => r.TasksPerCore = v),
        F.U16("ntasks_per_tres", static r => r.TasksPerTres, static (r, v) => r.TasksPerTres = v),
        F.U16("ntasks_per_socket", static r => r.TasksPerSocket, static (r, v) => r.TasksPerSocket = v),
        F.Custom("cpu_groups", WriteCpuGroups, ReadCpuGroups),
        F.Str("partition", static r => r.Partition, static (r, v) => r.Partition = v),
        F.U64("pn_min_memory", static r => r.MinMemoryPerNode, static (r, v) => r.MinMemoryPerNode = v),
        F.Str("qos", static r => r.Qos, static (r, v) => r.Qos = v),
        F.Str("resv_name", static r => r.ReservationName, static (r, v) => r.ReservationName = v),
        F.Custom("select_jobinfo", static (w, _) => w.WriteU32(JobDescriptor.ConsTresPluginId), static (ref SlurmReader r, ResourceAllocationResponse _) => SelectJobInfo.Skip(ref r), VersionRange.Until(ProtocolVersion.V23_02)),
        F.Str("tres_per_node", static r => r.TresPerNode, static (r, v) => r.TresPerNode = v, s_withIds),
        F.Str("tres_per_task", static r => r.TresPerTask, static (r, v) => r.TresPerTask = v, VersionRange.From(ProtocolVersion.V25_05)),
        F.U32("uid", static r => r.UserId, static (r, v) => r.UserId = v, s_withIds),
        F.Str("user_name", static r => r.UserName, static (r, v) => r.UserName = v, s_withIds),
        F.Custom("working_cluster_rec", static (w, _) => w.WriteU8(0), static (ref SlurmReader r, ResourceAllocationResponse _) => RejectWorkingCluster(r.ReadU8())));

    private static void WriteNodeAddresses(SlurmWriter writer, ResourceAllocationResponse response)
    {
        writer.WriteBool(response.NodeAddresses is not null);
        if (response.NodeAddresses is { } addresses)
        {
            writer.WriteU32((uint)addresses.Count);
            foreach (var address in addresses)
            {
                SlurmAddress.Write(writer, address);
            }
        }
    }

    private static void ReadNodeAddresses(ref SlurmReader reader, ResourceAllocationResponse response)
    {
        if (!reader.ReadBool())
        {
            return;
        }
        var count = reader.ReadU32();
        if (count != response.NodeCount || count > (uint)reader.Remaining / 2)
        {
            throw new SlurmProtocolException($"{count} node addresses for {response.NodeCount} nodes");
        }
        var addresses = new IPEndPoint?[count];
        for (var i = 0; i < addresses.Length; i++)
        {
            addresses[i] = SlurmAddress.Read(ref reader);
        }
        response.NodeAddresses = addresses;
    }

    private static void WriteCpuGroups(SlurmWriter writer, ResourceAllocationResponse response)
    {
        writer.WriteU32((uint)response.CpusPerNode.Count);
        if (response.CpusPerNode.Count > 0)
        {
            writer.WriteU16Array(response.CpusPerNode);
            writer.WriteU32Array(response.CpuCountRepetitions);
        }
    }

    private static void ReadCpuGroups(ref SlurmReader reader, ResourceAllocationResponse response)
    {
        var groups = reader.ReadU32();
        if (groups == 0)
        {
            return;
        }
        response.CpusPerNode = reader.ReadU16Array();
        response.CpuCountRepetitions = reader.ReadU32Array();
        if (response.CpusPerNode.Count != groups || response.CpuCountRepetitions.Count != groups)
        {
            throw new SlurmProtocolException($"{groups} cpu groups announced, {response.CpusPerNode.Count} and {response.CpuCountRepetitions.Count} sent");
        }
    }

    private static void RejectWorkingCluster(byte present)
    {
        if (present != 0)
        {
            throw new SlurmProtocolException("federated allocations (a working cluster record) are not supported");
        }
    }
}

/// <summary>22.05's <c>select_jobinfo</c>: a select plugin id, then plugin data, which is empty for every plugin but Cray's.</summary>
internal static class SelectJobInfo
{
    public static void Skip(ref SlurmReader reader) => ReadPluginId(ref reader);

    public static uint ReadPluginId(ref SlurmReader reader)
    {
        var plugin = reader.ReadU32();
        if (plugin is 107 or 108 or 110)
        {
            throw new SlurmProtocolException($"Cray select plugin data (plugin {plugin}) is not supported");
        }
        return plugin;
    }
}
