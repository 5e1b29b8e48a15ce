using Scrun.Slurm.Wire;
using F = Scrun.Slurm.Wire.WireFields<Scrun.Slurm.Messages.JobDescriptor>;

namespace Scrun.Slurm.Messages;

/// <summary>
/// <c>job_desc_msg_t</c>: what a job asks for, the body of <c>REQUEST_RESOURCE_ALLOCATION</c> and
/// <c>REQUEST_SUBMIT_BATCH_JOB</c>. A new descriptor holds libslurm's defaults
/// (<c>slurm_init_job_desc_msg</c>): <c>NO_VAL</c> where Slurm means "not set", 0 or NULL elsewhere.
/// Property names follow Slurm's field names; <see cref="Layout"/> is the field order of every release.
/// </summary>
public sealed class JobDescriptor
{
    /// <summary>select/cons_tres: the plugin id 22.05 expects in <c>select_jobinfo</c> (any loaded plugin's id is accepted).</summary>
    internal const uint ConsTresPluginId = 109;

    /// <summary><c>USE_DEFAULT_ACCT</c>, <c>_PART</c>, <c>_QOS</c>, <c>_WCKEY</c>: libslurm sets them for each of those left unset.</summary>
    public const ulong UseDefaultAccount = 1UL << 25;
    public const ulong UseDefaultPartition = 1UL << 26;
    public const ulong UseDefaultQos = 1UL << 27;
    public const ulong UseDefaultWckey = 1UL << 28;

    /// <summary><c>site_factor</c></summary>
    public uint SiteFactor { get; set; } = NoValue.U32;

    /// <summary><c>batch_features</c></summary>
    public string? BatchFeatures { get; set; }

    /// <summary><c>cluster_features</c></summary>
    public string? ClusterFeatures { get; set; }

    /// <summary><c>clusters</c></summary>
    public string? Clusters { get; set; }

    /// <summary><c>contiguous</c></summary>
    public ushort Contiguous { get; set; } = NoValue.U16;

    /// <summary><c>container</c></summary>
    public string? Container { get; set; }

    /// <summary><c>container_id</c></summary>
    public string? ContainerId { get; set; }

    /// <summary><c>core_spec</c></summary>
    public ushort CoreSpec { get; set; } = NoValue.U16;

    /// <summary><c>task_dist</c></summary>
    public uint TaskDist { get; set; } = NoValue.U32;

    /// <summary><c>kill_on_node_fail</c></summary>
    public ushort KillOnNodeFail { get; set; } = NoValue.U16;

    /// <summary><c>features</c></summary>
    public string? Features { get; set; }

    /// <summary><c>fed_siblings_active</c></summary>
    public ulong FederationSiblingsActive { get; set; }

    /// <summary><c>fed_siblings_viable</c></summary>
    public ulong FederationSiblingsViable { get; set; }

    /// <summary><c>job_id</c></summary>
    public uint JobId { get; set; } = NoValue.U32;

    /// <summary><c>job_id_str</c></summary>
    public string? JobIdText { get; set; }

    /// <summary><c>name</c></summary>
    public string? Name { get; set; }

    /// <summary><c>alloc_node</c></summary>
    public string? AllocNode { get; set; }

    /// <summary><c>alloc_sid</c></summary>
    public uint AllocSid { get; set; } = NoValue.U32;

    /// <summary><c>array_inx</c></summary>
    public string? ArrayIndexes { get; set; }

    /// <summary><c>burst_buffer</c></summary>
    public string? BurstBuffer { get; set; }

    /// <summary><c>pn_min_cpus</c></summary>
    public ushort MinCpusPerNode { get; set; } = NoValue.U16;

    /// <summary><c>pn_min_memory</c></summary>
    public ulong MinMemoryPerNode { get; set; } = NoValue.U64;

    /// <summary><c>power_flags</c></summary>
    internal byte PowerFlags { get; set; }

    /// <summary><c>oom_kill_step</c></summary>
    public ushort OomKillStep { get; set; } = NoValue.U16;

    /// <summary><c>pn_min_tmp_disk</c></summary>
    public uint MinTmpDiskPerNode { get; set; } = NoValue.U32;

    /// <summary><c>prefer</c></summary>
    public string? Prefer { get; set; }

    /// <summary><c>cpu_freq_min</c></summary>
    public uint CpuFrequencyMin { get; set; } = NoValue.U32;

    /// <summary><c>cpu_freq_max</c></summary>
    public uint CpuFrequencyMax { get; set; } = NoValue.U32;

    /// <summary><c>cpu_freq_gov</c></summary>
    public uint CpuFrequencyGovernor { get; set; } = NoValue.U32;

    /// <summary><c>partition</c></summary>
    public string? Partition { get; set; }

    /// <summary><c>priority</c></summary>
    public uint Priority { get; set; } = NoValue.U32;

    /// <summary><c>dependency</c></summary>
    public string? Dependency { get; set; }

    /// <summary><c>account</c></summary>
    public string? Account { get; set; }

    /// <summary><c>admin_comment</c></summary>
    public string? AdminComment { get; set; }

    /// <summary><c>comment</c></summary>
    public string? Comment { get; set; }

    /// <summary><c>nice</c></summary>
    public uint Nice { get; set; } = NoValue.U32;

    /// <summary><c>profile</c></summary>
    public uint Profile { get; set; }

    /// <summary><c>qos</c></summary>
    public string? Qos { get; set; }

    /// <summary><c>mcs_label</c></summary>
    public string? McsLabel { get; set; }

    /// <summary><c>origin_cluster</c></summary>
    public string? OriginCluster { get; set; }

    /// <summary><c>open_mode</c></summary>
    public byte OpenMode { get; set; }

    /// <summary><c>overcommit</c></summary>
    public byte Overcommit { get; set; } = NoValue.U8;

    /// <summary><c>acctg_freq</c></summary>
    public string? AccountingFrequency { get; set; }

    /// <summary><c>num_tasks</c></summary>
    public uint NumTasks { get; set; } = NoValue.U32;

    /// <summary><c>req_context</c></summary>
    public string? RequestedContext { get; set; }

    /// <summary><c>req_nodes</c></summary>
    public string? RequiredNodes { get; set; }

    /// <summary><c>exc_nodes</c></summary>
    public string? ExcludedNodes { get; set; }

    /// <summary><c>environment</c></summary>
    public IReadOnlyList<string>? Environment { get; set; }

    /// <summary><c>spank_job_env</c></summary>
    public IReadOnlyList<string>? SpankJobEnvironment { get; set; }

    /// <summary><c>script</c></summary>
    public string? Script { get; set; }

    /// <summary><c>argv</c></summary>
    public IReadOnlyList<string>? Argv { get; set; }

    /// <summary><c>std_err</c></summary>
    public string? StdErr { get; set; }

    /// <summary><c>std_in</c></summary>
    public string? StdIn { get; set; }

    /// <summary><c>std_out</c></summary>
    public string? StdOut { get; set; }

    /// <summary><c>submit_line</c></summary>
    public string? SubmitLine { get; set; }

    /// <summary><c>work_dir</c></summary>
    public string? WorkDir { get; set; }

    /// <summary><c>immediate</c></summary>
    public ushort Immediate { get; set; }

    /// <summary><c>reboot</c></summary>
    public ushort Reboot { get; set; } = NoValue.U16;

    /// <summary><c>requeue</c></summary>
    public ushort Requeue { get; set; } = NoValue.U16;

    /// <summary><c>shared</c></summary>
    public ushort Shared { get; set; } = NoValue.U16;

    /// <summary><c>cpus_per_task</c></summary>
    public ushort CpusPerTask { get; set; } = NoValue.U16;

    /// <summary><c>ntasks_per_node</c></summary>
    public ushort TasksPerNode { get; set; } = NoValue.U16;

    /// <summary><c>ntasks_per_board</c></summary>
    public ushort TasksPerBoard { get; set; }

    /// <summary><c>ntasks_per_socket</c></summary>
    public ushort TasksPerSocket { get; set; } = NoValue.U16;

    /// <summary><c>ntasks_per_core</c></summary>
    public ushort TasksPerCore { get; set; } = NoValue.U16;

    /// <summary><c>ntasks_per_tres</c></summary>
    public ushort TasksPerTres { get; set; } = NoValue.U16;

    /// <summary><c>plane_size</c></summary>
    public ushort PlaneSize { get; set; } = NoValue.U16;

    /// <summary><c>cpu_bind_type</c></summary>
    public ushort CpuBindType { get; set; } = NoValue.U16;

    /// <summary><c>mem_bind_type</c></summary>
    public ushort MemBindType { get; set; } = NoValue.U16;

    /// <summary><c>cpu_bind</c></summary>
    public string? CpuBind { get; set; }

    /// <summary><c>mem_bind</c></summary>
    public string? MemBind { get; set; }

    /// <summary><c>time_limit</c></summary>
    public uint TimeLimit { get; set; } = NoValue.U32;

    /// <summary><c>time_min</c></summary>
    public uint TimeMin { get; set; } = NoValue.U32;

    /// <summary><c>min_cpus</c></summary>
    public uint MinCpus { get; set; } = NoValue.U32;

    /// <summary><c>max_cpus</c></summary>
    public uint MaxCpus { get; set; } = NoValue.U32;

    /// <summary><c>min_nodes</c></summary>
    public uint MinNodes { get; set; } = NoValue.U32;

    /// <summary><c>max_nodes</c></summary>
    public uint MaxNodes { get; set; } = NoValue.U32;

    /// <summary><c>job_size_str</c></summary>
    public string? JobSizeText { get; set; }

    /// <summary><c>boards_per_node</c></summary>
    public ushort BoardsPerNode { get; set; }

    /// <summary><c>sockets_per_board</c></summary>
    public ushort SocketsPerBoard { get; set; }

    /// <summary><c>sockets_per_node</c></summary>
    public ushort SocketsPerNode { get; set; } = NoValue.U16;

    /// <summary><c>cores_per_socket</c></summary>
    public ushort CoresPerSocket { get; set; } = NoValue.U16;

    /// <summary><c>threads_per_core</c></summary>
    public ushort ThreadsPerCore { get; set; } = NoValue.U16;

    /// <summary><c>user_id</c>; left at NO_VAL, <see cref="SlurmController"/> fills in the caller's.</summary>
    public uint UserId { get; set; } = NoValue.U32;

    /// <summary><c>group_id</c>; left at NO_VAL, <see cref="SlurmController"/> fills in the caller's.</summary>
    public uint GroupId { get; set; } = NoValue.U32;

    /// <summary><c>alloc_resp_port</c></summary>
    public ushort AllocResponsePort { get; set; }

    /// <summary><c>alloc_tls_cert</c></summary>
    public string? AllocTlsCertificate { get; set; }

    /// <summary><c>resp_host</c></summary>
    public string? ResponseHost { get; set; }

    /// <summary><c>other_port</c></summary>
    public ushort OtherPort { get; set; }

    /// <summary><c>resv_port_cnt</c></summary>
    public ushort ReservedPortCount { get; set; } = NoValue.U16;

    /// <summary><c>network</c></summary>
    public string? Network { get; set; }

    /// <summary><c>begin_time</c></summary>
    public long BeginTime { get; set; }

    /// <summary><c>end_time</c></summary>
    public long EndTime { get; set; }

    /// <summary><c>deadline</c></summary>
    public long Deadline { get; set; }

    /// <summary><c>licenses</c></summary>
    public string? Licenses { get; set; }

    /// <summary><c>mail_type</c></summary>
    public ushort MailType { get; set; } = NoValue.U16;

    /// <summary><c>mail_user</c></summary>
    public string? MailUser { get; set; }

    /// <summary><c>reservation</c></summary>
    public string? Reservation { get; set; }

    /// <summary><c>restart_cnt</c></summary>
    public ushort RestartCnt { get; set; }

    /// <summary><c>warn_flags</c></summary>
    public ushort WarnFlags { get; set; }

    /// <summary><c>warn_signal</c></summary>
    public ushort WarnSignal { get; set; }

    /// <summary><c>warn_time</c></summary>
    public ushort WarnTime { get; set; }

    /// <summary><c>wckey</c></summary>
    public string? Wckey { get; set; }

    /// <summary><c>req_switch</c></summary>
    public uint RequiredSwitches { get; set; } = NoValue.U32;

    /// <summary><c>wait4switch</c></summary>
    public uint WaitForSwitch { get; set; } = NoValue.U32;

    /// <summary><c>select_jobinfo</c></summary>
    internal uint SelectPluginId { get; set; } = ConsTresPluginId;

    /// <summary><c>wait_all_nodes</c></summary>
    public ushort WaitAllNodes { get; set; } = NoValue.U16;

    /// <summary><c>bitflags</c></summary>
    public ulong BitFlags { get; set; }

    /// <summary><c>delay_boot</c></summary>
    public uint DelayBoot { get; set; } = NoValue.U32;

    /// <summary><c>extra</c></summary>
    public string? Extra { get; set; }

    /// <summary><c>x11</c></summary>
    public ushort X11 { get; set; }

    /// <summary><c>x11_magic_cookie</c></summary>
    public string? X11MagicCookie { get; set; }

    /// <summary><c>x11_target</c></summary>
    public string? X11Target { get; set; }

    /// <summary><c>x11_target_port</c></summary>
    public ushort X11TargetPort { get; set; }

    /// <summary><c>cpus_per_tres</c></summary>
    public string? CpusPerTres { get; set; }

    /// <summary><c>mem_per_tres</c></summary>
    public string? MemPerTres { get; set; }

    /// <summary><c>tres_bind</c></summary>
    public string? TresBind { get; set; }

    /// <summary><c>tres_freq</c></summary>
    public string? TresFrequency { get; set; }

    /// <summary><c>tres_per_job</c></summary>
    public string? TresPerJob { get; set; }

    /// <summary><c>tres_per_node</c></summary>
    public string? TresPerNode { get; set; }

    /// <summary><c>tres_per_socket</c></summary>
    public string? TresPerSocket { get; set; }

    /// <summary><c>tres_per_task</c></summary>
    public string? TresPerTask { get; set; }

    /// <summary><c>segment_size</c></summary>
    public ushort SegmentSize { get; set; }


    internal ulong UseDefaultBits =>
        (Account is null ? UseDefaultAccount : 0)
        | (Partition is null ? UseDefaultPartition : 0)
        | (Qos is null ? UseDefaultQos : 0)
        | (Wckey is null ? UseDefaultWckey : 0);

    public void Write(SlurmWriter writer, ProtocolVersion version) => Layout.Write(writer, this, version);

    public static JobDescriptor Read(ref SlurmReader reader, ProtocolVersion version)
    {
        var descriptor = new JobDescriptor();
        Layout.Read(ref reader, descriptor, version);
        return descriptor;
    }

    /// <summary>A cron entry would follow a set flag; scrun never sends one and refuses to parse one.</summary>
    private static void RejectCrontabEntry(byte present)
    {
        if (present != 0)
        {
            throw new SlurmProtocolException("job descriptors with a crontab entry are not supported");
        }
    }

    internal static readonly WireLayout<JobDescriptor> Layout = new(
        "job_desc",
        F.U32("site_factor", static d => d.SiteFactor, static (d, v) => d.SiteFactor = v),
        F.Str("batch_features", static d => d.BatchFeatures, static (d, v) => d.BatchFeatures = v),
        F.Str("cluster_features", static d => d.ClusterFeatures, static (d, v) => d.ClusterFeatures = v),
        F.Str("clusters", static d => d.Clusters, static (d, v) => d.Clusters = v),
        F.U16("contiguous", static d => d.Contiguous, static (d, v) => d.Contiguous = v),
        F.Str("container", static d => d.Container, static (d, v) => d.Container = v),
        F.Str("container_id", static d => d.ContainerId, static (d, v) => d.ContainerId = v, VersionRange.From(ProtocolVersion.V23_02)),
        F.U16("core_spec", static d => d.CoreSpec, static (d, v) => d.CoreSpec = v),
        F.U32("task_dist", static d => d.TaskDist, static (d, v) => d.TaskDist = v),
        F.U16("kill_on_node_fail", static d => d.KillOnNodeFail, static (d, v) => d.KillOnNodeFail = v),
        F.Str("features", static d => d.Features, static (d, v) => d.Features = v),
        F.U64("fed_siblings_active", static d => d.FederationSiblingsActive, static (d, v) => d.FederationSiblingsActive = v),
        F.U64("fed_siblings_viable", static d => d.FederationSiblingsViable, static (d, v) => d.FederationSiblingsViable = v),
        F.U32("job_id", static d => d.JobId, static (d, v) => d.JobId = v),
        F.Str("job_id_str", static d => d.JobIdText, static (d, v) => d.JobIdText = v),
        F.Str("name", static d => d.Name, static (d, v) => d.Name = v),
        F.Str("alloc_node", static d => d.AllocNode, static (d, v) => d.AllocNode = v),
        F.U32("alloc_sid", static d => d.AllocSid, static (d, v) => d.AllocSid = v),
        F.Str("array_inx", static d => d.ArrayIndexes, static (d, v) => d.ArrayIndexes = v),
        F.Str("burst_buffer", static d => d.BurstBuffer, static (d, v) => d.BurstBuffer = v),
        F.U16("pn_min_cpus", static d => d.MinCpusPerNode, static (d, v) => d.MinCpusPerNode = v),
        F.U64("pn_min_memory", static d => d.MinMemoryPerNode, static (d, v) => d.MinMemoryPerNode = v),
        F.U16("oom_kill_step", static d => d.OomKillStep, static (d, v) => d.OomKillStep = v, VersionRange.From(ProtocolVersion.V24_11)),
        F.U32("pn_min_tmp_disk", static d => d.MinTmpDiskPerNode, static (d, v) => d.MinTmpDiskPerNode = v),
        F.U8("power_flags", static d => d.PowerFlags, static (d, v) => d.PowerFlags = v, VersionRange.Until(ProtocolVersion.V24_11)),
        F.Str("prefer", static d => d.Prefer, static (d, v) => d.Prefer = v),
        F.U32("cpu_freq_min", static d => d.CpuFrequencyMin, static (d, v) => d.CpuFrequencyMin = v),
        F.U32("cpu_freq_max", static d => d.CpuFrequencyMax, static (d, v) => d.CpuFrequencyMax = v),
        F.U32("cpu_freq_gov", static d => d.CpuFrequencyGovernor, static (d, v) => d.CpuFrequencyGovernor = v),
        F.Str("partition", static d => d.Partition, static (d, v) => d.Partition = v),
        F.U32("priority", static d => d.Priority, static (d, v) => d.Priority = v),
        F.Str("dependency", static d => d.Dependency, static (d, v) => d.Dependency = v),
        F.Str("account", static d => d.Account, static (d, v) => d.Account = v),
        F.Str("admin_comment", static d => d.AdminComment, static (d, v) => d.AdminComment = v),
        F.Str("comment", static d => d.Comment, static (d, v) => d.Comment = v),
        F.U32("nice", static d => d.Nice, static (d, v) => d.Nice = v),
        F.U32("profile", static d => d.Profile, static (d, v) => d.Profile = v),
        F.Str("qos", static d => d.Qos, static (d, v) => d.Qos = v),
        F.Str("mcs_label", static d => d.McsLabel, static (d, v) => d.McsLabel = v),
        F.Str("origin_cluster", static d => d.OriginCluster, static (d, v) => d.OriginCluster = v),
        F.U8("open_mode", static d => d.OpenMode, static (d, v) => d.OpenMode = v),
        F.U8("overcommit", static d => d.Overcommit, static (d, v) => d.Overcommit = v),
        F.Str("acctg_freq", static d => d.AccountingFrequency, static (d, v) => d.AccountingFrequency = v),
        F.U32("num_tasks", static d => d.NumTasks, static (d, v) => d.NumTasks = v),
        F.Str("req_context", static d => d.RequestedContext, static (d, v) => d.RequestedContext = v),
        F.Str("req_nodes", static d => d.RequiredNodes, static (d, v) => d.RequiredNodes = v),
        F.Str("exc_nodes", static d => d.ExcludedNodes, static (d, v) => d.ExcludedNodes = v),
        F.StrArray("environment", static d => d.Environment, static (d, v) => d.Environment = v),
        F.StrArray("spank_job_env", static d => d.SpankJobEnvironment, static (d, v) => d.SpankJobEnvironment = v),
        F.Str("script", static d => d.Script, static (d, v) => d.Script = v),
        F.StrArray("argv", static d => d.Argv, static (d, v) => d.Argv = v),
        F.Str("std_err", static d => d.StdErr, static (d, v) => d.StdErr = v),
        F.Str("std_in", static d => d.StdIn, static (d, v) => d.StdIn = v),
        F.Str("std_out", static d => d.StdOut, static (d, v) => d.StdOut = v),
        F.Str("submit_line", static d => d.SubmitLine, static (d, v) => d.SubmitLine = v),
        F.Str("work_dir", static d => d.WorkDir, static (d, v) => d.WorkDir = v),
        F.U16("immediate", static d => d.Immediate, static (d, v) => d.Immediate = v),
        F.U16("reboot", static d => d.Reboot, static (d, v) => d.Reboot = v),
        F.U16("requeue", static d => d.Requeue, static (d, v) => d.Requeue = v),
        F.U16("shared", static d => d.Shared, static (d, v) => d.Shared = v),
        F.U16("cpus_per_task", static d => d.CpusPerTask, static (d, v) => d.CpusPerTask = v),
        F.U16("ntasks_per_node", static d => d.TasksPerNode, static (d, v) => d.TasksPerNode = v),
        F.U16("ntasks_per_board", static d => d.TasksPerBoard, static (d, v) => d.TasksPerBoard = v),
        F.U16("ntasks_per_socket", static d => d.TasksPerSocket, static (d, v) => d.TasksPerSocket = v),
        F.U16("ntasks_per_core", static d => d.TasksPerCore, static (d, v) => d.TasksPerCore = v),
        F.U16("ntasks_per_tres", static d => d.TasksPerTres, static (d, v) => d.TasksPerTres = v),
        F.U16("plane_size", static d => d.PlaneSize, static (d, v) => d.PlaneSize = v),
        F.U16("cpu_bind_type", static d => d.CpuBindType, static (d, v) => d.CpuBindType = v),
        F.U16("mem_bind_type", static d => d.MemBindType, static (d, v) => d.MemBindType = v),
        F.Str("cpu_bind", static d => d.CpuBind, static (d, v) => d.CpuBind = v),
        F.Str("mem_bind", static d => d.MemBind, static (d, v) => d.MemBind = v),
        F.U32("time_limit", static d => d.TimeLimit, static (d, v) => d.TimeLimit = v),
        F.U32("time_min", static d => d.TimeMin, static (d, v) => d.TimeMin = v),
        F.U32("min_cpus", static d => d.MinCpus, static (d, v) => d.MinCpus = v),
        F.U32("max_cpus", static d => d.MaxCpus, static (d, v) => d.MaxCpus = v),
        F.U32("min_nodes", static d => d.MinNodes, static (d, v) => d.MinNodes = v),
        F.U32("max_nodes", static d => d.MaxNodes, static (d, v) => d.MaxNodes = v),
        F.Str("job_size_str", static d => d.JobSizeText, static (d, v) => d.JobSizeText = v, VersionRange.From(ProtocolVersion.V23_02)),
        F.U16("boards_per_node", static d => d.BoardsPerNode, static (d, v) => d.BoardsPerNode = v),
        F.U16("sockets_per_board", static d => d.SocketsPerBoard, static (d, v) => d.SocketsPerBoard = v),
        F.U16("sockets_per_node", static d => d.SocketsPerNode, static (d, v) => d.SocketsPerNode = v),
        F.U16("cores_per_socket", static d => d.CoresPerSocket, static (d, v) => d.CoresPerSocket = v),
        F.U16("threads_per_core", static d => d.ThreadsPerCore, static (d, v) => d.ThreadsPerCore = v),
        F.U32("user_id", static d => d.UserId, static (d, v) => d.UserId = v),
        F.U32("group_id", static d => d.GroupId, static (d, v) => d.GroupId = v),
        F.U16("alloc_resp_port", static d => d.AllocResponsePort, static (d, v) => d.AllocResponsePort = v),
        F.Str("alloc_tls_cert", static d => d.AllocTlsCertificate, static (d, v) => d.AllocTlsCertificate = v, VersionRange.From(ProtocolVersion.V25_05)),
        F.Str("resp_host", static d => d.ResponseHost, static (d, v) => d.ResponseHost = v),
        F.U16("other_port", static d => d.OtherPort, static (d, v) => d.OtherPort = v),
        F.U16("resv_port_cnt", static d => d.ReservedPortCount, static (d, v) => d.ReservedPortCount = v, VersionRange.From(ProtocolVersion.V24_05)),
        F.Str("network", static d => d.Network, static (d, v) => d.Network = v),
        F.Time("begin_time", static d => d.BeginTime, static (d, v) => d.BeginTime = v),
        F.Time("end_time", static d => d.EndTime, static (d, v) => d.EndTime = v),
        F.Time("deadline", static d => d.Deadline, static (d, v) => d.Deadline = v),
        F.Str("licenses", static d => d.Licenses, static (d, v) => d.Licenses = v),
        F.U16("mail_type", static d => d.MailType, static (d, v) => d.MailType = v),
        F.Str("mail_user", static d => d.MailUser, static (d, v) => d.MailUser = v),
        F.Str("reservation", static d => d.Reservation, static (d, v) => d.Reservation = v),
        F.U16("restart_cnt", static d => d.RestartCnt, static (d, v) => d.RestartCnt = v),
        F.U16("warn_flags", static d => d.WarnFlags, static (d, v) => d.WarnFlags = v),
        F.U16("warn_signal", static d => d.WarnSignal, static (d, v) => d.WarnSignal = v),
        F.U16("warn_time", static d => d.WarnTime, static (d, v) => d.WarnTime = v),
        F.Str("wckey", static d => d.Wckey, static (d, v) => d.Wckey = v),
        F.U32("req_switch", static d => d.RequiredSwitches, static (d, v) => d.RequiredSwitches = v),
        F.U32("wait4switch", static d => d.WaitForSwitch, static (d, v) => d.WaitForSwitch = v),
        F.Custom("select_jobinfo", static (w, d) => w.WriteU32(d.SelectPluginId), static (ref SlurmReader r, JobDescriptor d) => d.SelectPluginId = SelectJobInfo.ReadPluginId(ref r), VersionRange.Until(ProtocolVersion.V23_02)),
        F.U16("wait_all_nodes", static d => d.WaitAllNodes, static (d, v) => d.WaitAllNodes = v),
        F.U64("bitflags", static d => d.BitFlags | d.UseDefaultBits, static (d, v) => d.BitFlags = v),
        F.U32("delay_boot", static d => d.DelayBoot, static (d, v) => d.DelayBoot = v),
        F.Str("extra", static d => d.Extra, static (d, v) => d.Extra = v),
        F.U16("x11", static d => d.X11, static (d, v) => d.X11 = v),
        F.Str("x11_magic_cookie", static d => d.X11MagicCookie, static (d, v) => d.X11MagicCookie = v),
        F.Str("x11_target", static d => d.X11Target, static (d, v) => d.X11Target = v),
        F.U16("x11_target_port", static d => d.X11TargetPort, static (d, v) => d.X11TargetPort = v),
        F.Str("cpus_per_tres", static d => d.CpusPerTres, static (d, v) => d.CpusPerTres = v),
        F.Str("mem_per_tres", static d => d.MemPerTres, static (d, v) => d.MemPerTres = v),
        F.Str("tres_bind", static d => d.TresBind, static (d, v) => d.TresBind = v),
        F.Str("tres_freq", static d => d.TresFrequency, static (d, v) => d.TresFrequency = v),
        F.Str("tres_per_job", static d => d.TresPerJob, static (d, v) => d.TresPerJob = v),
        F.Str("tres_per_node", static d => d.TresPerNode, static (d, v) => d.TresPerNode = v),
        F.Str("tres_per_socket", static d => d.TresPerSocket, static (d, v) => d.TresPerSocket = v),
        F.Str("tres_per_task", static d => d.TresPerTask, static (d, v) => d.TresPerTask = v),
        F.U8("crontab_entry", static _ => 0, static (_, v) => RejectCrontabEntry(v)),
        F.U16("segment_size", static d => d.SegmentSize, static (d, v) => d.SegmentSize = v, VersionRange.From(ProtocolVersion.V24_05)));
}
