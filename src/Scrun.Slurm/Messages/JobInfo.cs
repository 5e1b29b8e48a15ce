using Scrun.Slurm.Wire;
using F = Scrun.Slurm.Wire.WireFields<Scrun.Slurm.Messages.JobInfo>;

namespace Scrun.Slurm.Messages;

/// <summary>Slurm's base job states (the low byte of <c>job_state</c>).</summary>
public enum JobState : byte
{
    Pending = 0,
    Running = 1,
    Suspended = 2,
    Complete = 3,
    Cancelled = 4,
    Failed = 5,
    Timeout = 6,
    NodeFail = 7,
    Preempted = 8,
    BootFail = 9,
    Deadline = 10,
    OutOfMemory = 11,
}

/// <summary>
/// The part of a job record (<c>RESPONSE_JOB_INFO</c>, 2004) a container runtime needs. Records
/// are long and change every release: each release family's leading fields are a layout table
/// (read up to the last field scrun uses, the rest skipped), pinned to captured records by the
/// field-order tests.
/// </summary>
public sealed class JobInfo
{
    public uint JobId { get; set; }

    public uint UserId { get; set; }

    public uint GroupId { get; set; }

    /// <summary>Only in 24.11+ records (earlier releases put the name after the job resources, which are not parsed).</summary>
    public string? Name { get; set; }

    public string? UserName { get; set; }

    public uint RawState { get; set; }

    /// <summary>The base state: flags such as <c>JOB_COMPLETING</c> live above it.</summary>
    public JobState State => (JobState)(RawState & 0xFF);

    /// <summary>A pending job's reason number (<c>enum job_state_reason</c>).</summary>
    public uint StateReason { get; set; }

    public string? StateDescription { get; set; }

    /// <summary>The job's wait status as Slurm records it (exit code in bits 8-15, signal in the low bits).</summary>
    public uint ExitCode { get; set; }

    public uint DerivedExitCode { get; set; }

    public uint TimeLimitMinutes { get; set; }

    public long StartTime { get; set; }

    public long EndTime { get; set; }

    public string? Nodes { get; set; }

    public string? Partition { get; set; }

    public string? Account { get; set; }

    public string? Comment { get; set; }

    public string? BatchHost { get; set; }

    public string? Container { get; set; }

    /// <summary>The OCI container id (23.02+ records).</summary>
    public string? ContainerId { get; set; }

    private static readonly VersionRange s_from2405 = VersionRange.From(ProtocolVersion.V24_05);
    private static readonly VersionRange s_before2405 = VersionRange.Until(ProtocolVersion.V24_05);

    /// <summary>22.05's record order, which 24.05 keeps with a few fields inserted (23.02, 23.11 and 24.05 share it).</summary>
    public static WireLayout<JobInfo> ReleaseOrderLayout { get; } = new("job_info",
        Skip("array_job_id", 4),
        Skip("array_task_id", 4),
        SkipString("array_task_str"),
        Skip("array_max_tasks", 4),
        Skip("assoc_id", 4),
        F.Str("container", j => j.Container, (j, v) => j.Container = v),
        F.Str("container_id", j => j.ContainerId, (j, v) => j.ContainerId = v, s_from2405),
        Skip("delay_boot", 4),
        SkipString("failed_node", s_from2405),
        F.U32("job_id", j => j.JobId, (j, v) => j.JobId = v),
        F.U32("user_id", j => j.UserId, (j, v) => j.UserId = v),
        F.U32("group_id", j => j.GroupId, (j, v) => j.GroupId = v),
        Skip("het_job_id", 4),
        SkipString("het_job_id_set"),
        Skip("het_job_offset", 4),
        Skip("profile", 4),
        F.U32("job_state", j => j.RawState, (j, v) => j.RawState = v),
        Skip("batch_flag", 2),
        F.U16("state_reason", j => (ushort)j.StateReason, (j, v) => j.StateReason = v, s_before2405),
        F.U32("state_reason", j => j.StateReason, (j, v) => j.StateReason = v, s_from2405),
        Skip("power_flags", 1),
        Skip("reboot", 1),
        Skip("restart_cnt", 2),
        Skip("show_flags", 2),
        Skip("deadline", 8),
        Skip("alloc_sid", 4),
        F.U32("time_limit", j => j.TimeLimitMinutes, (j, v) => j.TimeLimitMinutes = v),
        Skip("time_min", 4),
        Skip("nice", 4),
        Skip("submit_time", 8),
        Skip("eligible_time", 8),
        Skip("accrue_time", 8),
        F.Time("start_time", j => j.StartTime, (j, v) => j.StartTime = v),
        F.Time("end_time", j => j.EndTime, (j, v) => j.EndTime = v),
        Skip("suspend_time", 8),
        Skip("pre_sus_time", 8),
        Skip("resize_time", 8),
        Skip("last_sched_eval", 8),
        Skip("preempt_time", 8),
        Skip("priority", 4),
        SkipU32Array("priority_array", s_from2405),
        SkipString("priority_array_names", s_from2405),
        Skip("billable_tres", 8),
        SkipString("cluster"),
        F.Str("nodes", j => j.Nodes, (j, v) => j.Nodes = v),
        SkipString("sched_nodes"),
        F.Str("partition", j => j.Partition, (j, v) => j.Partition = v),
        F.Str("account", j => j.Account, (j, v) => j.Account = v),
        SkipString("admin_comment"),
        Skip("site_factor", 4),
        SkipString("network"),
        F.Str("comment", j => j.Comment, (j, v) => j.Comment = v),
        SkipString("extra", s_from2405),
        SkipString("container(2nd copy)"),
        SkipString("batch_features"),
        F.Str("batch_host", j => j.BatchHost, (j, v) => j.BatchHost = v),
        SkipString("burst_buffer"),
        SkipString("burst_buffer_state"),
        SkipString("system_comment"),
        SkipString("qos"),
        Skip("preemptable_time", 8),
        SkipString("licenses"),
        F.Str("state_desc", j => j.StateDescription, (j, v) => j.StateDescription = v),
        SkipString("resv_name"),
        SkipString("resv_ports", s_from2405),
        SkipString("mcs_label"),
        F.U32("exit_code", j => j.ExitCode, (j, v) => j.ExitCode = v),
        F.U32("derived_ec", j => j.DerivedExitCode, (j, v) => j.DerivedExitCode = v));

    /// <summary>24.11's record: most fields in alphabetical order, a few trailing (25.05 adds licenses_allocated).</summary>
    public static WireLayout<JobInfo> AlphabeticalLayout { get; } = new("job_info",
        F.Str("account", j => j.Account, (j, v) => j.Account = v),
        SkipString("admin_comment"),
        SkipString("alloc_node"),
        Skip("alloc_sid", 4),
        Skip("array_job_id", 4),
        Skip("array_task_id", 4),
        Skip("assoc_id", 4),
        SkipString("batch_features"),
        Skip("batch_flag", 2),
        F.Str("batch_host", j => j.BatchHost, (j, v) => j.BatchHost = v),
        Skip("bitflags", 8),
        SkipString("burst_buffer"),
        SkipString("burst_buffer_state"),
        Skip("billable_tres", 8),
        F.Str("comment", j => j.Comment, (j, v) => j.Comment = v),
        F.Str("container", j => j.Container, (j, v) => j.Container = v),
        F.Str("container_id", j => j.ContainerId, (j, v) => j.ContainerId = v),
        SkipString("cpus_per_tres"),
        Skip("deadline", 8),
        Skip("delay_boot", 4),
        F.U32("derived_ec", j => j.DerivedExitCode, (j, v) => j.DerivedExitCode = v),
        F.U32("exit_code", j => j.ExitCode, (j, v) => j.ExitCode = v),
        SkipString("extra"),
        SkipString("failed_node"),
        F.Ignored("fed_details_present(bool)", w => w.WriteBool(false), SkipFederationDetails),
        SkipString("gres_total"),
        F.U32("group_id", j => j.GroupId, (j, v) => j.GroupId = v),
        Skip("het_job_id", 4),
        SkipString("het_job_id_set"),
        Skip("het_job_offset", 4),
        F.U32("job_id", j => j.JobId, (j, v) => j.JobId = v),
        F.U32("job_state", j => j.RawState, (j, v) => j.RawState = v),
        Skip("last_sched_eval", 8),
        SkipString("licenses"),
        SkipString("licenses_allocated", VersionRange.From(ProtocolVersion.V25_05)),
        Skip("mail_type", 2),
        SkipString("mail_user"),
        SkipString("mcs_label"),
        SkipString("mem_per_tres"),
        F.Str("name", j => j.Name, (j, v) => j.Name = v),
        SkipString("network"),
        Skip("preempt_time", 8),
        Skip("pre_sus_time", 8),
        Skip("priority", 4),
        Skip("profile", 4),
        Skip("reboot", 1),
        Skip("req_switch", 4),
        Skip("resize_time", 8),
        Skip("restart_cnt", 2),
        SkipString("resv_name"),
        SkipString("resv_ports"),
        SkipString("selinux_context"),
        Skip("site_factor", 4),
        Skip("start_protocol_ver", 2),
        F.Str("state_desc", j => j.StateDescription, (j, v) => j.StateDescription = v),
        F.U32("state_reason", j => j.StateReason, (j, v) => j.StateReason = v),
        Skip("suspend_time", 8),
        SkipString("system_comment"),
        Skip("time_min", 4),
        SkipString("tres_bind"),
        SkipString("tres_alloc_str"),
        SkipString("tres_req_str"),
        SkipString("tres_freq"),
        SkipString("tres_per_job"),
        SkipString("tres_per_node"),
        SkipString("tres_per_socket"),
        SkipString("tres_per_task"),
        F.U32("user_id", j => j.UserId, (j, v) => j.UserId = v),
        F.Str("user_name", j => j.UserName, (j, v) => j.UserName = v),
        Skip("wait4switch", 4),
        SkipString("wckey"),
        SkipString("array_task_str"),
        Skip("array_max_tasks", 4),
        F.U32("time_limit", j => j.TimeLimitMinutes, (j, v) => j.TimeLimitMinutes = v),
        F.Time("start_time", j => j.StartTime, (j, v) => j.StartTime = v),
        F.Time("end_time", j => j.EndTime, (j, v) => j.EndTime = v),
        SkipU32Array("priority_array"),
        SkipString("priority_array_names"),
        SkipString("cluster"),
        F.Str("nodes", j => j.Nodes, (j, v) => j.Nodes = v),
        SkipString("sched_nodes"),
        F.Str("partition", j => j.Partition, (j, v) => j.Partition = v));

    /// <summary>The layout of a record in <paramref name="version"/>.</summary>
    public static WireLayout<JobInfo> LayoutFor(ProtocolVersion version) =>
        version >= ProtocolVersion.V24_11 ? AlphabeticalLayout : ReleaseOrderLayout;

    /// <summary>Reads the first record of a RESPONSE_JOB_INFO body; null when it holds none.</summary>
    public static JobInfo? ReadFirst(ref SlurmReader reader, ProtocolVersion version)
    {
        var count = reader.ReadU32();
        reader.Skip(8 + 8); // last_update, last_backfill
        if (count == 0)
        {
            return null;
        }
        var job = new JobInfo();
        LayoutFor(version).Read(ref reader, job, version);
        return job;
    }

    private static WireField<JobInfo> Skip(string name, int bytes, VersionRange releases = default) =>
        F.Ignored(name, w => w.WriteRaw(new byte[bytes]), (ref SlurmReader r) => r.Skip(bytes), releases);

    private static WireField<JobInfo> SkipString(string name, VersionRange releases = default) =>
        F.Ignored(name, w => w.WriteString(null), (ref SlurmReader r) => r.SkipString(), releases);

    private static WireField<JobInfo> SkipU32Array(string name, VersionRange releases = default) =>
        F.Ignored(name, w => w.WriteU32Array(null), (ref SlurmReader r) => r.ReadU32Array(), releases);

    private static void SkipFederationDetails(ref SlurmReader r)
    {
        if (r.ReadBool())
        {
            r.SkipString(); // origin
            r.Skip(8); // siblings_active
            r.SkipString(); // siblings_active_str
            r.Skip(8); // siblings_viable
            r.SkipString(); // siblings_viable_str
        }
    }
}

/// <summary><c>RESPONSE_JOB_INFO</c> (2004) for one job.</summary>
public sealed record JobInfoResponse(JobInfo? Job) : ISlurmReply<JobInfoResponse>
{
    public static bool Accepts(MessageType type) => type == MessageType.ResponseJobInfo;

    public static JobInfoResponse ReadBody(ref SlurmReader reader, ProtocolVersion version)
    {
        var job = JobInfo.ReadFirst(ref reader, version);
        reader.Skip(reader.Remaining); // the rest of the record, and any further records
        return new JobInfoResponse(job);
    }
}
