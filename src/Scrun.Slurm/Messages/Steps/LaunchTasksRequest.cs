using Scrun.Slurm.Wire;
using F = Scrun.Slurm.Wire.WireFields<Scrun.Slurm.Messages.Steps.LaunchTasksRequest>;

namespace Scrun.Slurm.Messages.Steps;

/// <summary>
/// <c>REQUEST_LAUNCH_TASKS</c> (6001, <c>launch_tasks_request_msg_t</c>): start a step's tasks on a
/// node. The same body goes to every node (slurmd finds its node index in
/// <c>complete_nodelist</c>). A new request holds what srun sends for one container task per node
/// with its stdio brought back to the launcher; <see cref="Layout"/> is the field order of every
/// release. The message is sent in the step's <c>use_protocol_ver</c>.
/// </summary>
public sealed class LaunchTasksRequest : ISlurmRequest
{
    /// <summary><c>LAUNCH_PTY</c>: task 0 runs on a terminal; its stderr is its stdout.</summary>
    public const uint PseudoTerminal = 0x4;

    /// <summary><c>LAUNCH_BUFFERED_IO</c></summary>
    public const uint BufferedIo = 0x8;

    /// <summary><c>MPI_PLUGIN_NONE</c></summary>
    public const uint NoMpiPlugin = 101;

    /// <summary><c>SWITCH_PLUGIN_NONE</c>, packed in 22.05's launch.</summary>
    private const uint NoSwitchPlugin = 100;

    private const string JobOptionsTag = "job_options";

    public MessageType Type => MessageType.RequestLaunchTasks;

    /// <summary><c>step_id.sluid</c></summary>
    public ulong Sluid { get; set; }

    /// <summary><c>step_id.job_id</c></summary>
    public uint JobId { get; set; }

    /// <summary><c>step_id.step_id</c></summary>
    public uint StepNumber { get; set; }

    /// <summary><c>step_id.step_het_comp</c></summary>
    public uint HetComponent { get; set; } = NoValue.U32;

    /// <summary><c>uid</c> (22.05): the job owner; it must equal the credential's and the MUNGE uid.</summary>
    public uint UserId { get; set; }

    /// <summary><c>gid</c> (22.05): the job's group; it must equal the credential's.</summary>
    public uint GroupId { get; set; }

    /// <summary><c>user_name</c> (22.05): slurmd takes it from the credential.</summary>
    public string? UserName { get; set; }

    /// <summary><c>gids</c>: slurmd takes them from the credential.</summary>
    public uint[] GroupIds { get; set; } = [];

    /// <summary><c>het_job_node_offset</c></summary>
    public uint HetJobNodeOffset { get; set; }

    /// <summary><c>het_job_id</c></summary>
    public uint HetJobId { get; set; } = NoValue.U32;

    /// <summary><c>het_job_offset</c></summary>
    public uint HetJobOffset { get; set; } = NoValue.U32;

    /// <summary><c>het_job_step_cnt</c></summary>
    public uint HetJobStepCount { get; set; } = 1;

    /// <summary><c>het_job_task_offset</c></summary>
    public uint HetJobTaskOffset { get; set; } = NoValue.U32;

    /// <summary><c>het_job_node_list</c></summary>
    public string? HetJobNodeList { get; set; }

    /// <summary><c>mpi_plugin_id</c></summary>
    public uint MpiPluginId { get; set; } = NoMpiPlugin;

    /// <summary><c>ntasks</c></summary>
    public uint TaskCount { get; set; } = 1;

    /// <summary><c>ntasks_per_board</c></summary>
    public ushort TasksPerBoard { get; set; }

    /// <summary><c>ntasks_per_core</c></summary>
    public ushort TasksPerCore { get; set; } = ushort.MaxValue;

    /// <summary><c>ntasks_per_tres</c></summary>
    public ushort TasksPerTres { get; set; }

    /// <summary><c>ntasks_per_socket</c></summary>
    public ushort TasksPerSocket { get; set; } = ushort.MaxValue;

    /// <summary><c>job_mem_lim</c></summary>
    public ulong JobMemoryLimit { get; set; }

    /// <summary><c>step_mem_lim</c></summary>
    public ulong StepMemoryLimit { get; set; }

    /// <summary><c>nnodes</c></summary>
    public uint NodeCount { get; set; } = 1;

    /// <summary><c>cpus_per_task</c></summary>
    public ushort CpusPerTask { get; set; } = 1;

    /// <summary><c>cpt_compact_array</c>, from the step layout.</summary>
    public ushort[] CpusPerTaskCompact { get; set; } = [];

    /// <summary><c>cpt_compact_reps</c>, from the step layout.</summary>
    public uint[] CpusPerTaskRepetitions { get; set; } = [];

    /// <summary><c>tres_per_task</c></summary>
    public string? TresPerTask { get; set; }

    /// <summary><c>threads_per_core</c></summary>
    public ushort ThreadsPerCore { get; set; } = NoValue.U16;

    /// <summary><c>task_dist</c></summary>
    public uint TaskDistribution { get; set; } = JobStepCreateRequest.CyclicDistribution;

    /// <summary><c>node_cpus</c></summary>
    public ushort NodeCpus { get; set; }

    /// <summary><c>job_core_spec</c></summary>
    public ushort JobCoreSpec { get; set; }

    /// <summary><c>accel_bind_type</c></summary>
    public ushort AcceleratorBindType { get; set; }

    /// <summary>The release the credential was packed in (the version of the step create reply).</summary>
    public ProtocolVersion CredentialVersion { get; set; }

    /// <summary><c>cred</c>: the job credential exactly as the step create reply carried it.</summary>
    public byte[] Credential { get; set; } = [];

    /// <summary><c>tasks_to_launch</c> and <c>global_task_ids</c>: per node, the global ids of its tasks.</summary>
    public IReadOnlyList<uint[]> TaskIds { get; set; } = [[0]];

    /// <summary><c>resp_port</c>: where slurmstepd reports the launch and the tasks' exit.</summary>
    public ushort[] ResponsePorts { get; set; } = [];

    /// <summary><c>env</c></summary>
    public IReadOnlyList<string> Environment { get; set; } = [];

    /// <summary><c>spank_job_env</c></summary>
    public IReadOnlyList<string> SpankEnvironment { get; set; } = [];

    /// <summary><c>container</c>: the bundle slurmstepd runs through oci.conf.</summary>
    public string? Container { get; set; }

    /// <summary><c>cwd</c></summary>
    public string? WorkingDirectory { get; set; }

    /// <summary><c>cpu_bind_type</c></summary>
    public ushort CpuBindType { get; set; }

    /// <summary><c>cpu_bind</c></summary>
    public string? CpuBind { get; set; }

    /// <summary><c>mem_bind_type</c></summary>
    public ushort MemoryBindType { get; set; }

    /// <summary><c>mem_bind</c></summary>
    public string? MemoryBind { get; set; }

    /// <summary><c>argv</c></summary>
    public IReadOnlyList<string> Arguments { get; set; } = [];

    /// <summary><c>flags</c></summary>
    public uint Flags { get; set; } = BufferedIo;

    /// <summary><c>ofname</c>; NULL brings stdout back to the launcher.</summary>
    public string? StdoutFile { get; set; }

    /// <summary><c>efname</c></summary>
    public string? StderrFile { get; set; }

    /// <summary><c>ifname</c></summary>
    public string? StdinFile { get; set; }

    /// <summary><c>io_port</c>: where slurmstepd connects the tasks' stdio.</summary>
    public ushort[] IoPorts { get; set; } = [];

    /// <summary><c>alloc_tls_cert</c></summary>
    public string? AllocationTlsCertificate { get; set; }

    /// <summary><c>profile</c></summary>
    public uint Profile { get; set; }

    /// <summary><c>task_prolog</c></summary>
    public string? TaskProlog { get; set; }

    /// <summary><c>task_epilog</c></summary>
    public string? TaskEpilog { get; set; }

    /// <summary><c>slurmd_debug</c></summary>
    public ushort SlurmdDebug { get; set; }

    /// <summary><c>alias_list</c></summary>
    public string? AliasList { get; set; }

    /// <summary><c>complete_nodelist</c>: the step's nodes, from the layout.</summary>
    public string? CompleteNodeList { get; set; }

    /// <summary><c>open_mode</c></summary>
    public byte OpenMode { get; set; }

    /// <summary><c>acctg_freq</c></summary>
    public string? AccountingFrequency { get; set; }

    /// <summary><c>cpu_freq_min</c></summary>
    public uint CpuFrequencyMin { get; set; } = NoValue.U32;

    /// <summary><c>cpu_freq_max</c></summary>
    public uint CpuFrequencyMax { get; set; } = NoValue.U32;

    /// <summary><c>cpu_freq_gov</c></summary>
    public uint CpuFrequencyGovernor { get; set; } = NoValue.U32;

    /// <summary><c>select_jobinfo</c> (22.05): the select plugin's id, as the step create reply gave it.</summary>
    public uint SelectPluginId { get; set; } = 109;

    /// <summary><c>tres_bind</c></summary>
    public string? TresBind { get; set; }

    /// <summary><c>tres_freq</c></summary>
    public string? TresFrequency { get; set; }

    /// <summary><c>stepmgr</c></summary>
    public string? StepManager { get; set; }

    /// <summary><c>oom_kill_step</c></summary>
    public bool OomKillStep { get; set; }

    public void WriteBody(SlurmWriter writer, ProtocolVersion version) => Layout.Write(writer, this, version);

    /// <summary>
    /// Decodes a launch (a fake slurmd in tests does). The credential's extent cannot be known
    /// without parsing it, so the caller, who issued it, gives its length.
    /// </summary>
    public static LaunchTasksRequest ReadBody(ref SlurmReader reader, ProtocolVersion version, int credentialLength)
    {
        var request = new LaunchTasksRequest { Credential = new byte[credentialLength] };
        Layout.Read(ref reader, request, version);
        return request;
    }

    private static void RequireNoValue(string field, uint value)
    {
        if (value != NoValue.U32)
        {
            throw new SlurmProtocolException($"{field} {value}: heterogeneous steps are not supported");
        }
    }

    private static ushort[] ReadPorts(ref SlurmReader reader)
    {
        var ports = new ushort[reader.ReadU16()];
        for (var i = 0; i < ports.Length; i++)
        {
            ports[i] = reader.ReadU16();
        }
        return ports;
    }

    private static void WritePorts(SlurmWriter writer, ushort[] ports)
    {
        writer.WriteU16((ushort)ports.Length);
        foreach (var port in ports)
        {
            writer.WriteU16(port);
        }
    }

    private static void WriteTaskIds(SlurmWriter writer, LaunchTasksRequest request)
    {
        foreach (var ids in request.TaskIds)
        {
            writer.WriteU16((ushort)ids.Length);
            writer.WriteU32Array(ids);
        }
    }

    private static void ReadTaskIds(ref SlurmReader reader, LaunchTasksRequest request)
    {
        if (request.NodeCount > StepLayout.MaxNodes)
        {
            throw new SlurmProtocolException($"launch on {request.NodeCount} nodes");
        }
        var taskIds = new uint[request.NodeCount][];
        for (var node = 0; node < taskIds.Length; node++)
        {
            var count = reader.ReadU16();
            taskIds[node] = reader.ReadU32Array();
            if (taskIds[node].Length != count)
            {
                throw new SlurmProtocolException($"node {node} launches {count} tasks but lists {taskIds[node].Length}");
            }
        }
        request.TaskIds = taskIds;
    }

    private static void ReadJobOptions(ref SlurmReader reader)
    {
        if (reader.ReadString() != JobOptionsTag)
        {
            throw new SlurmProtocolException("job options without their tag");
        }
        if (reader.ReadU32() != 0)
        {
            throw new SlurmProtocolException("spank job options are not supported");
        }
    }

    internal static readonly WireLayout<LaunchTasksRequest> Layout = new(
        "launch_tasks_request",
        F.U64("sluid", static m => m.Sluid, static (m, v) => m.Sluid = v, VersionRange.From(ProtocolVersion.V24_11)),
        F.U32("job_id", static m => m.JobId, static (m, v) => m.JobId = v),
        F.U32("step_id", static m => m.StepNumber, static (m, v) => m.StepNumber = v),
        F.U32("step_het_comp", static m => m.HetComponent, static (m, v) => m.HetComponent = v),
        F.U32("uid", static m => m.UserId, static (m, v) => m.UserId = v, VersionRange.Until(ProtocolVersion.V23_11)),
        F.U32("gid", static m => m.GroupId, static (m, v) => m.GroupId = v, VersionRange.Until(ProtocolVersion.V23_11)),
        F.Str("user_name", static m => m.UserName, static (m, v) => m.UserName = v, VersionRange.Until(ProtocolVersion.V23_11)),
        F.Custom("gids", static (w, m) => w.WriteU32Array(m.GroupIds), static (ref SlurmReader r, LaunchTasksRequest m) => m.GroupIds = r.ReadU32Array()),
        F.U32("het_job_node_offset", static m => m.HetJobNodeOffset, static (m, v) => m.HetJobNodeOffset = v),
        F.U32("het_job_id", static m => m.HetJobId, static (m, v) => m.HetJobId = v),
        F.Custom("het_job_nnodes", static (w, _) => w.WriteU32(NoValue.U32), static (ref SlurmReader r, LaunchTasksRequest _) => RequireNoValue("het_job_nnodes", r.ReadU32())),
        F.Custom("het_job_ntasks", static (w, _) => w.WriteU32(NoValue.U32), static (ref SlurmReader r, LaunchTasksRequest _) => RequireNoValue("het_job_ntasks", r.ReadU32())),
        F.U32("het_job_offset", static m => m.HetJobOffset, static (m, v) => m.HetJobOffset = v),
        F.U32("het_job_step_cnt", static m => m.HetJobStepCount, static (m, v) => m.HetJobStepCount = v),
        F.Custom("het_job_step_task_cnts", static (_, m) => RequireNoValue("het_job_offset", m.HetJobOffset), static (ref SlurmReader _, LaunchTasksRequest m) => RequireNoValue("het_job_offset", m.HetJobOffset), VersionRange.From(ProtocolVersion.V25_05)),
        F.U32("het_job_task_offset", static m => m.HetJobTaskOffset, static (m, v) => m.HetJobTaskOffset = v),
        F.Str("het_job_node_list", static m => m.HetJobNodeList, static (m, v) => m.HetJobNodeList = v),
        F.U32("mpi_plugin_id", static m => m.MpiPluginId, static (m, v) => m.MpiPluginId = v),
        F.U32("ntasks", static m => m.TaskCount, static (m, v) => m.TaskCount = v),
        F.U16("ntasks_per_board", static m => m.TasksPerBoard, static (m, v) => m.TasksPerBoard = v),
        F.U16("ntasks_per_core", static m => m.TasksPerCore, static (m, v) => m.TasksPerCore = v),
        F.U16("ntasks_per_tres", static m => m.TasksPerTres, static (m, v) => m.TasksPerTres = v),
        F.U16("ntasks_per_socket", static m => m.TasksPerSocket, static (m, v) => m.TasksPerSocket = v),
        F.U64("job_mem_lim", static m => m.JobMemoryLimit, static (m, v) => m.JobMemoryLimit = v),
        F.U64("step_mem_lim", static m => m.StepMemoryLimit, static (m, v) => m.StepMemoryLimit = v),
        F.U32("nnodes", static m => m.NodeCount, static (m, v) => m.NodeCount = v),
        F.U16("cpus_per_task", static m => m.CpusPerTask, static (m, v) => m.CpusPerTask = v),
        F.Custom("cpt_compact_array", static (w, m) => w.WriteU16Array(m.CpusPerTaskCompact), static (ref SlurmReader r, LaunchTasksRequest m) => m.CpusPerTaskCompact = r.ReadU16Array(), VersionRange.From(ProtocolVersion.V23_11)),
        F.Custom("cpt_compact_reps", static (w, m) => w.WriteU32Array(m.CpusPerTaskRepetitions), static (ref SlurmReader r, LaunchTasksRequest m) => m.CpusPerTaskRepetitions = r.ReadU32Array(), VersionRange.From(ProtocolVersion.V23_11)),
        F.Str("tres_per_task", static m => m.TresPerTask, static (m, v) => m.TresPerTask = v),
        F.U16("threads_per_core", static m => m.ThreadsPerCore, static (m, v) => m.ThreadsPerCore = v),
        F.U32("task_dist", static m => m.TaskDistribution, static (m, v) => m.TaskDistribution = v),
        F.U16("node_cpus", static m => m.NodeCpus, static (m, v) => m.NodeCpus = v),
        F.U16("job_core_spec", static m => m.JobCoreSpec, static (m, v) => m.JobCoreSpec = v),
        F.U16("accel_bind_type", static m => m.AcceleratorBindType, static (m, v) => m.AcceleratorBindType = v),
        F.U16("cred_version", static m => m.CredentialVersion.Value, static (m, v) => m.CredentialVersion = new ProtocolVersion(v)),
        F.Custom("cred", static (w, m) => w.WriteRaw(m.Credential), static (ref SlurmReader r, LaunchTasksRequest m) => m.Credential = r.ReadRaw(m.Credential.Length).ToArray()),
        F.Custom("tasks_to_launch", WriteTaskIds, ReadTaskIds),
        F.Custom("resp_port", static (w, m) => WritePorts(w, m.ResponsePorts), static (ref SlurmReader r, LaunchTasksRequest m) => m.ResponsePorts = ReadPorts(ref r)),
        F.Custom("orig_addr", static (w, _) => SlurmAddress.Write(w, null), static (ref SlurmReader r, LaunchTasksRequest _) => SlurmAddress.Read(ref r)),
        F.StrArray("env", static m => m.Environment, static (m, v) => m.Environment = v ?? []),
        F.StrArray("spank_job_env", static m => m.SpankEnvironment, static (m, v) => m.SpankEnvironment = v ?? []),
        F.Str("container", static m => m.Container, static (m, v) => m.Container = v),
        F.Str("cwd", static m => m.WorkingDirectory, static (m, v) => m.WorkingDirectory = v),
        F.U16("cpu_bind_type", static m => m.CpuBindType, static (m, v) => m.CpuBindType = v),
        F.Str("cpu_bind", static m => m.CpuBind, static (m, v) => m.CpuBind = v),
        F.U16("mem_bind_type", static m => m.MemoryBindType, static (m, v) => m.MemoryBindType = v),
        F.Str("mem_bind", static m => m.MemoryBind, static (m, v) => m.MemoryBind = v),
        F.StrArray("argv", static m => m.Arguments, static (m, v) => m.Arguments = v ?? []),
        F.U32("flags", static m => m.Flags, static (m, v) => m.Flags = v),
        F.Str("ofname", static m => m.StdoutFile, static (m, v) => m.StdoutFile = v),
        F.Str("efname", static m => m.StderrFile, static (m, v) => m.StderrFile = v),
        F.Str("ifname", static m => m.StdinFile, static (m, v) => m.StdinFile = v),
        F.Custom("io_port", static (w, m) => WritePorts(w, m.IoPorts), static (ref SlurmReader r, LaunchTasksRequest m) => m.IoPorts = ReadPorts(ref r)),
        F.Str("alloc_tls_cert", static m => m.AllocationTlsCertificate, static (m, v) => m.AllocationTlsCertificate = v, VersionRange.From(ProtocolVersion.V25_05)),
        F.U32("profile", static m => m.Profile, static (m, v) => m.Profile = v),
        F.Str("task_prolog", static m => m.TaskProlog, static (m, v) => m.TaskProlog = v),
        F.Str("task_epilog", static m => m.TaskEpilog, static (m, v) => m.TaskEpilog = v),
        F.U16("slurmd_debug", static m => m.SlurmdDebug, static (m, v) => m.SlurmdDebug = v),
        F.Custom("switch_jobinfo", static (w, _) => w.WriteU32(NoSwitchPlugin), static (ref SlurmReader r, LaunchTasksRequest _) => RequireSwitchNone(r.ReadU32()), VersionRange.Until(ProtocolVersion.V23_02)),
        F.Custom("job_options", static (w, _) => { w.WriteString(JobOptionsTag); w.WriteU32(0); }, static (ref SlurmReader r, LaunchTasksRequest _) => ReadJobOptions(ref r)),
        F.Str("alias_list", static m => m.AliasList, static (m, v) => m.AliasList = v, VersionRange.Until(ProtocolVersion.V25_05)),
        F.Str("complete_nodelist", static m => m.CompleteNodeList, static (m, v) => m.CompleteNodeList = v),
        F.U8("open_mode", static m => m.OpenMode, static (m, v) => m.OpenMode = v),
        F.Str("acctg_freq", static m => m.AccountingFrequency, static (m, v) => m.AccountingFrequency = v),
        F.U32("cpu_freq_min", static m => m.CpuFrequencyMin, static (m, v) => m.CpuFrequencyMin = v),
        F.U32("cpu_freq_max", static m => m.CpuFrequencyMax, static (m, v) => m.CpuFrequencyMax = v),
        F.U32("cpu_freq_gov", static m => m.CpuFrequencyGovernor, static (m, v) => m.CpuFrequencyGovernor = v),
        F.U32("select_jobinfo", static m => m.SelectPluginId, static (m, v) => m.SelectPluginId = v, VersionRange.Until(ProtocolVersion.V23_02)),
        F.Str("tres_bind", static m => m.TresBind, static (m, v) => m.TresBind = v),
        F.Str("tres_freq", static m => m.TresFrequency, static (m, v) => m.TresFrequency = v),
        F.Custom("x11", static (w, _) => WriteNoX11(w), static (ref SlurmReader r, LaunchTasksRequest _) => ReadNoX11(ref r)),
        F.Str("stepmgr", static m => m.StepManager, static (m, v) => m.StepManager = v, VersionRange.From(ProtocolVersion.V24_05)),
        F.Custom("oom_kill_step", static (w, m) => w.WriteBool(m.OomKillStep), static (ref SlurmReader r, LaunchTasksRequest m) => m.OomKillStep = r.ReadBool(), VersionRange.From(ProtocolVersion.V24_11)),
        F.Custom("job_ptr", static (w, _) => w.WriteBool(false), static (ref SlurmReader r, LaunchTasksRequest _) => RejectJobRecord(r.ReadU8()), VersionRange.From(ProtocolVersion.V24_05)));

    private static void RequireSwitchNone(uint pluginId)
    {
        if (pluginId != NoSwitchPlugin)
        {
            throw new SlurmProtocolException($"switch plugin {pluginId}: only switch/none is supported");
        }
    }

    private static void RejectJobRecord(byte present)
    {
        if (present != 0)
        {
            throw new SlurmProtocolException("a launch carrying a job record (stepmgr) is not supported");
        }
    }

    /// <summary><c>x11</c>, <c>x11_alloc_host</c>, <c>x11_alloc_port</c>, <c>x11_magic_cookie</c>, <c>x11_target</c>, <c>x11_target_port</c>: no X11 forwarding.</summary>
    private static void WriteNoX11(SlurmWriter writer)
    {
        writer.WriteU16(0);
        writer.WriteString(null);
        writer.WriteU16(0);
        writer.WriteString(null);
        writer.WriteString(null);
        writer.WriteU16(0);
    }

    private static void ReadNoX11(ref SlurmReader reader)
    {
        var x11 = reader.ReadU16();
        reader.SkipString();
        reader.ReadU16();
        reader.SkipString();
        reader.SkipString();
        reader.ReadU16();
        if (x11 != 0)
        {
            throw new SlurmProtocolException("X11 forwarding is not supported");
        }
    }
}
