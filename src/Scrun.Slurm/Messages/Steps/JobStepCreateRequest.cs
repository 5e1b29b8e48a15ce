using Scrun.Slurm.Wire;
using F = Scrun.Slurm.Wire.WireFields<Scrun.Slurm.Messages.Steps.JobStepCreateRequest>;

namespace Scrun.Slurm.Messages.Steps;

/// <summary>
/// <c>REQUEST_JOB_STEP_CREATE</c> (5001): ask slurmctld for a step in an allocation
/// (<c>job_step_create_request_msg_t</c>). A new request holds what srun sends for one task per
/// node; <see cref="Layout"/> is the field order of every release.
/// </summary>
public sealed class JobStepCreateRequest : ISlurmRequest, ISlurmReply<JobStepCreateRequest>
{
    /// <summary><c>SSF_EXCLUSIVE</c>, <c>SSF_WHOLE</c>, <c>SSF_OVERLAP_FORCE</c> (slurm.h <c>step_spec_flags_t</c>).</summary>
    public const uint Exclusive = 0x1;
    public const uint Whole = 0x8;

    /// <summary><c>SSF_OVERLAP_FORCE</c> (<c>srun --overlap</c>): the step shares the job's CPUs and memory and counts against nothing.</summary>
    public const uint OverlapForce = 0x40;

    /// <summary>The uid 23.02 and later send (SLURM_AUTH_NOBODY): slurmctld replaces it with the authenticated uid.</summary>
    public const uint AuthenticatedUser = 99;

    /// <summary><c>SLURM_DIST_CYCLIC</c></summary>
    public const uint CyclicDistribution = 1;

    public MessageType Type => MessageType.RequestJobStepCreate;

    /// <summary><c>step_id.sluid</c> (24.11+): 0, or the job's; slurmctld finds the job by id when 0.</summary>
    public ulong Sluid { get; set; }

    /// <summary><c>step_id.job_id</c></summary>
    public uint JobId { get; set; } = NoValue.U32;

    /// <summary><c>step_id.step_id</c>: NO_VAL, slurmctld picks the step number.</summary>
    public uint StepNumber { get; set; } = NoValue.U32;

    /// <summary><c>step_id.step_het_comp</c></summary>
    public uint HetComponent { get; set; } = NoValue.U32;

    /// <summary><c>array_task_id</c></summary>
    public uint ArrayTaskId { get; set; } = NoValue.U32;

    /// <summary><c>user_id</c>: the job owner's uid on 22.05 (checked against the MUNGE uid); 99 later.</summary>
    public uint UserId { get; set; } = AuthenticatedUser;

    /// <summary><c>min_nodes</c></summary>
    public uint MinNodes { get; set; } = 1;

    /// <summary><c>max_nodes</c></summary>
    public uint MaxNodes { get; set; } = 1;

    /// <summary><c>container</c>: the OCI bundle slurmstepd runs through oci.conf.</summary>
    public string? Container { get; set; }

    /// <summary><c>container_id</c></summary>
    public string? ContainerId { get; set; }

    /// <summary><c>container_type</c></summary>
    public string? ContainerType { get; set; }

    /// <summary><c>cpu_count</c></summary>
    public uint CpuCount { get; set; } = 1;

    /// <summary><c>cpu_freq_min</c></summary>
    public uint CpuFrequencyMin { get; set; } = NoValue.U32;

    /// <summary><c>cpu_freq_max</c></summary>
    public uint CpuFrequencyMax { get; set; } = NoValue.U32;

    /// <summary><c>cpu_freq_gov</c></summary>
    public uint CpuFrequencyGovernor { get; set; } = NoValue.U32;

    /// <summary><c>num_tasks</c></summary>
    public uint TaskCount { get; set; } = 1;

    /// <summary><c>pn_min_memory</c></summary>
    public ulong MinMemoryPerNode { get; set; }

    /// <summary><c>time_limit</c> (minutes; 0 = the job's)</summary>
    public uint TimeLimit { get; set; }

    /// <summary><c>threads_per_core</c></summary>
    public ushort ThreadsPerCore { get; set; } = NoValue.U16;

    /// <summary><c>ntasks_per_core</c></summary>
    public ushort TasksPerCore { get; set; } = ushort.MaxValue;

    /// <summary><c>relative</c></summary>
    public ushort Relative { get; set; } = NoValue.U16;

    /// <summary><c>task_dist</c></summary>
    public uint TaskDistribution { get; set; } = CyclicDistribution;

    /// <summary><c>plane_size</c></summary>
    public ushort PlaneSize { get; set; } = NoValue.U16;

    /// <summary><c>port</c>: where slurmctld sends step callbacks; 0 = none.</summary>
    public ushort Port { get; set; }

    /// <summary><c>immediate</c></summary>
    public ushort Immediate { get; set; }

    /// <summary><c>resv_port_cnt</c></summary>
    public ushort ReservedPortCount { get; set; } = NoValue.U16;

    /// <summary><c>srun_pid</c></summary>
    public uint LauncherPid { get; set; }

    /// <summary><c>flags</c></summary>
    public uint Flags { get; set; } = Exclusive | Whole;

    /// <summary><c>host</c>: the launcher's host, resolved by slurmctld for callbacks.</summary>
    public string? Host { get; set; }

    /// <summary><c>name</c></summary>
    public string? Name { get; set; }

    /// <summary><c>network</c></summary>
    public string? Network { get; set; }

    /// <summary><c>node_list</c></summary>
    public string? NodeList { get; set; }

    /// <summary><c>exc_nodes</c></summary>
    public string? ExcludedNodes { get; set; }

    /// <summary><c>features</c></summary>
    public string? Features { get; set; }

    /// <summary><c>step_het_comp_cnt</c></summary>
    public uint HetComponentCount { get; set; }

    /// <summary><c>step_het_grps</c></summary>
    public string? HetGroups { get; set; }

    /// <summary><c>cpus_per_tres</c></summary>
    public string? CpusPerTres { get; set; }

    /// <summary><c>mem_per_tres</c></summary>
    public string? MemoryPerTres { get; set; }

    /// <summary><c>ntasks_per_tres</c></summary>
    public ushort TasksPerTres { get; set; } = NoValue.U16;

    /// <summary><c>cwd</c></summary>
    public string? WorkingDirectory { get; set; }

    /// <summary><c>std_err</c></summary>
    public string? StandardError { get; set; }

    /// <summary><c>std_in</c></summary>
    public string? StandardInput { get; set; }

    /// <summary><c>std_out</c></summary>
    public string? StandardOutput { get; set; }

    /// <summary><c>submit_line</c></summary>
    public string? SubmitLine { get; set; }

    /// <summary><c>tres_bind</c></summary>
    public string? TresBind { get; set; }

    /// <summary><c>tres_freq</c></summary>
    public string? TresFrequency { get; set; }

    /// <summary><c>tres_per_step</c></summary>
    public string? TresPerStep { get; set; } = "cpu:1";

    /// <summary><c>tres_per_node</c></summary>
    public string? TresPerNode { get; set; }

    /// <summary><c>tres_per_socket</c></summary>
    public string? TresPerSocket { get; set; }

    /// <summary><c>tres_per_task</c></summary>
    public string? TresPerTask { get; set; }

    public void WriteBody(SlurmWriter writer, ProtocolVersion version) => Layout.Write(writer, this, version);

    public static bool Accepts(MessageType type) => type == MessageType.RequestJobStepCreate;

    public static JobStepCreateRequest ReadBody(ref SlurmReader reader, ProtocolVersion version)
    {
        var request = new JobStepCreateRequest();
        Layout.Read(ref reader, request, version);
        return request;
    }

    private static void RejectLaunchParameters(byte present)
    {
        if (present != 0)
        {
            throw new SlurmProtocolException("launch_params (srun --async) is not supported");
        }
    }

    internal static readonly WireLayout<JobStepCreateRequest> Layout = new(
        "job_step_create_request",
        F.U64("sluid", static m => m.Sluid, static (m, v) => m.Sluid = v, VersionRange.From(ProtocolVersion.V24_11)),
        F.U32("job_id", static m => m.JobId, static (m, v) => m.JobId = v),
        F.U32("step_id", static m => m.StepNumber, static (m, v) => m.StepNumber = v),
        F.U32("step_het_comp", static m => m.HetComponent, static (m, v) => m.HetComponent = v),
        F.U32("array_task_id", static m => m.ArrayTaskId, static (m, v) => m.ArrayTaskId = v, VersionRange.From(ProtocolVersion.V23_11)),
        F.U32("user_id", static m => m.UserId, static (m, v) => m.UserId = v),
        F.U32("min_nodes", static m => m.MinNodes, static (m, v) => m.MinNodes = v),
        F.U32("max_nodes", static m => m.MaxNodes, static (m, v) => m.MaxNodes = v),
        F.Str("container", static m => m.Container, static (m, v) => m.Container = v),
        F.Str("container_id", static m => m.ContainerId, static (m, v) => m.ContainerId = v, VersionRange.From(ProtocolVersion.V23_11)),
        F.Str("container_type", static m => m.ContainerType, static (m, v) => m.ContainerType = v, VersionRange.From(ProtocolVersion.V26_05)),
        F.U32("cpu_count", static m => m.CpuCount, static (m, v) => m.CpuCount = v),
        F.U32("cpu_freq_min", static m => m.CpuFrequencyMin, static (m, v) => m.CpuFrequencyMin = v),
        F.U32("cpu_freq_max", static m => m.CpuFrequencyMax, static (m, v) => m.CpuFrequencyMax = v),
        F.U32("cpu_freq_gov", static m => m.CpuFrequencyGovernor, static (m, v) => m.CpuFrequencyGovernor = v),
        F.U32("num_tasks", static m => m.TaskCount, static (m, v) => m.TaskCount = v),
        F.U64("pn_min_memory", static m => m.MinMemoryPerNode, static (m, v) => m.MinMemoryPerNode = v),
        F.U32("time_limit", static m => m.TimeLimit, static (m, v) => m.TimeLimit = v),
        F.U16("threads_per_core", static m => m.ThreadsPerCore, static (m, v) => m.ThreadsPerCore = v),
        F.U16("ntasks_per_core", static m => m.TasksPerCore, static (m, v) => m.TasksPerCore = v, VersionRange.From(ProtocolVersion.V23_11)),
        F.U16("relative", static m => m.Relative, static (m, v) => m.Relative = v),
        F.U32("task_dist", static m => m.TaskDistribution, static (m, v) => m.TaskDistribution = v),
        F.U16("plane_size", static m => m.PlaneSize, static (m, v) => m.PlaneSize = v),
        F.U16("port", static m => m.Port, static (m, v) => m.Port = v),
        F.U16("immediate", static m => m.Immediate, static (m, v) => m.Immediate = v),
        F.U16("resv_port_cnt", static m => m.ReservedPortCount, static (m, v) => m.ReservedPortCount = v),
        F.U32("srun_pid", static m => m.LauncherPid, static (m, v) => m.LauncherPid = v),
        F.U32("flags", static m => m.Flags, static (m, v) => m.Flags = v),
        F.Str("host", static m => m.Host, static (m, v) => m.Host = v),
        F.Str("name", static m => m.Name, static (m, v) => m.Name = v),
        F.Str("network", static m => m.Network, static (m, v) => m.Network = v),
        F.Str("node_list", static m => m.NodeList, static (m, v) => m.NodeList = v),
        F.Str("exc_nodes", static m => m.ExcludedNodes, static (m, v) => m.ExcludedNodes = v),
        F.Str("features", static m => m.Features, static (m, v) => m.Features = v),
        F.U32("step_het_comp_cnt", static m => m.HetComponentCount, static (m, v) => m.HetComponentCount = v),
        F.Str("step_het_grps", static m => m.HetGroups, static (m, v) => m.HetGroups = v),
        F.Str("cpus_per_tres", static m => m.CpusPerTres, static (m, v) => m.CpusPerTres = v),
        F.Str("mem_per_tres", static m => m.MemoryPerTres, static (m, v) => m.MemoryPerTres = v),
        F.U16("ntasks_per_tres", static m => m.TasksPerTres, static (m, v) => m.TasksPerTres = v),
        F.Str("cwd", static m => m.WorkingDirectory, static (m, v) => m.WorkingDirectory = v, VersionRange.From(ProtocolVersion.V25_05)),
        F.Str("std_err", static m => m.StandardError, static (m, v) => m.StandardError = v, VersionRange.From(ProtocolVersion.V25_05)),
        F.Str("std_in", static m => m.StandardInput, static (m, v) => m.StandardInput = v, VersionRange.From(ProtocolVersion.V25_05)),
        F.Str("std_out", static m => m.StandardOutput, static (m, v) => m.StandardOutput = v, VersionRange.From(ProtocolVersion.V25_05)),
        F.Str("submit_line", static m => m.SubmitLine, static (m, v) => m.SubmitLine = v),
        F.Str("tres_bind", static m => m.TresBind, static (m, v) => m.TresBind = v),
        F.Str("tres_freq", static m => m.TresFrequency, static (m, v) => m.TresFrequency = v),
        F.Str("tres_per_step", static m => m.TresPerStep, static (m, v) => m.TresPerStep = v),
        F.Str("tres_per_node", static m => m.TresPerNode, static (m, v) => m.TresPerNode = v),
        F.Str("tres_per_socket", static m => m.TresPerSocket, static (m, v) => m.TresPerSocket = v),
        F.Str("tres_per_task", static m => m.TresPerTask, static (m, v) => m.TresPerTask = v),
        F.Custom("launch_params", static (w, _) => w.WriteBool(false), static (ref SlurmReader r, JobStepCreateRequest _) => RejectLaunchParameters(r.ReadU8()), VersionRange.From(ProtocolVersion.V26_05)));
}
