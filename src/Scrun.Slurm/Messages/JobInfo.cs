using Scrun.Slurm.Wire;

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
/// are long and change every release; this reads the leading fields of each release's layout
/// and skips the rest.
/// </summary>
public sealed record JobInfo
{
    /// <summary><c>JOB_COMPLETING</c>, <c>JOB_CONFIGURING</c>... live above the base state.</summary>
    public const uint CompletingFlag = 0x8000;

    public uint JobId { get; init; }

    public uint UserId { get; init; }

    public uint GroupId { get; init; }

    /// <summary>Only in 24.11+ records (earlier releases put the name after the job resources, which are not parsed).</summary>
    public string? Name { get; init; }

    public string? UserName { get; init; }

    public uint RawState { get; init; }

    public JobState State => (JobState)(RawState & 0xFF);

    public bool IsCompleting => (RawState & CompletingFlag) != 0;

    /// <summary>A pending job's reason number (<c>enum job_state_reason</c>).</summary>
    public uint StateReason { get; init; }

    public string? StateDescription { get; init; }

    /// <summary>The job's wait status as Slurm records it (exit code in bits 8-15, signal in the low bits).</summary>
    public uint ExitCode { get; init; }

    public uint DerivedExitCode { get; init; }

    public uint TimeLimitMinutes { get; init; }

    public long StartTime { get; init; }

    public long EndTime { get; init; }

    public string? Nodes { get; init; }

    public string? Partition { get; init; }

    public string? Account { get; init; }

    public string? Comment { get; init; }

    public string? BatchHost { get; init; }

    public string? Container { get; init; }

    /// <summary>The OCI container id (23.02+ records).</summary>
    public string? ContainerId { get; init; }

    /// <summary>Reads the first record of a RESPONSE_JOB_INFO body; null when it holds none.</summary>
    public static JobInfo? ReadFirst(ref SlurmReader reader, ProtocolVersion version)
    {
        var count = reader.ReadU32();
        reader.Skip(8 + 8); // last_update, last_backfill
        if (count == 0)
        {
            return null;
        }
        try
        {
            return version >= ProtocolVersion.V24_11
                ? ReadAlphabetical(ref reader, version)
                : ReadReleaseOrder(ref reader, is2405: version >= ProtocolVersion.V24_05);
        }
        catch (SlurmProtocolException e)
        {
            throw new SlurmProtocolException($"job_info: {e.Message}");
        }
    }

    /// <summary>The record order of 22.05, which the 24.05 format keeps with a few fields inserted.</summary>
    private static JobInfo ReadReleaseOrder(ref SlurmReader r, bool is2405)
    {
        r.Skip(4 + 4); // array_job_id, array_task_id
        r.SkipString(); // array_task_str
        r.Skip(4 + 4); // array_max_tasks, assoc_id
        var container = r.ReadString();
        var containerId = is2405 ? r.ReadString() : null;
        r.Skip(4); // delay_boot
        if (is2405)
        {
            r.SkipString(); // failed_node
        }
        var jobId = r.ReadU32();
        var userId = r.ReadU32();
        var groupId = r.ReadU32();
        r.Skip(4);
        r.SkipString();
        r.Skip(4 + 4); // het_job_id, het_job_id_set, het_job_offset, profile
        var state = r.ReadU32();
        r.Skip(2); // batch_flag
        var reason = is2405 ? r.ReadU32() : r.ReadU16();
        r.Skip(1 + 1 + 2 + 2 + 8 + 4); // power_flags, reboot, restart_cnt, show_flags, deadline, alloc_sid
        var timeLimit = r.ReadU32();
        r.Skip(4 + 4 + (8 * 3)); // time_min, nice, submit/eligible/accrue
        var start = r.ReadTime();
        var end = r.ReadTime();
        r.Skip((8 * 5) + 4); // suspend .. preempt, priority
        if (is2405)
        {
            r.ReadU32Array(); // priority_array
            r.SkipString(); // priority_array_names
        }
        r.Skip(8); // billable_tres
        r.SkipString(); // cluster
        var nodes = r.ReadString();
        r.SkipString(); // sched_nodes
        var partition = r.ReadString();
        var account = r.ReadString();
        r.SkipString(); // admin_comment
        r.Skip(4); // site_factor
        r.SkipString(); // network
        var comment = r.ReadString();
        if (is2405)
        {
            r.SkipString(); // extra
        }
        r.SkipString(); // container (again)
        r.SkipString(); // batch_features
        var batchHost = r.ReadString();
        r.SkipString();
        r.SkipString();
        r.SkipString(); // burst_buffer, burst_buffer_state, system_comment
        r.SkipString(); // qos
        r.Skip(8); // preemptable_time
        r.SkipString(); // licenses
        var stateDescription = r.ReadString();
        r.SkipString(); // resv_name
        if (is2405)
        {
            r.SkipString(); // resv_ports
        }
        r.SkipString(); // mcs_label
        return new JobInfo
        {
            JobId = jobId,
            UserId = userId,
            GroupId = groupId,
            RawState = state,
            StateReason = reason,
            TimeLimitMinutes = timeLimit,
            StartTime = start,
            EndTime = end,
            Nodes = nodes,
            Partition = partition,
            Account = account,
            Comment = comment,
            BatchHost = batchHost,
            Container = container,
            ContainerId = containerId,
            StateDescription = stateDescription,
            ExitCode = r.ReadU32(),
            DerivedExitCode = r.ReadU32(),
        };
    }

    private static JobInfo ReadAlphabetical(ref SlurmReader r, ProtocolVersion version)
    {
        var account = r.ReadString();
        r.SkipString();
        r.SkipString(); // admin_comment, alloc_node
        r.Skip(4 * 4); // alloc_sid, array_job_id, array_task_id, assoc_id
        r.SkipString(); // batch_features
        r.Skip(2); // batch_flag
        var batchHost = r.ReadString();
        r.Skip(8); // bitflags
        r.SkipString();
        r.SkipString(); // burst_buffer, burst_buffer_state
        r.Skip(8); // billable_tres
        var comment = r.ReadString();
        var container = r.ReadString();
        var containerId = r.ReadString();
        r.SkipString(); // cpus_per_tres
        r.Skip(8 + 4); // deadline, delay_boot
        var derivedExitCode = r.ReadU32();
        var exitCode = r.ReadU32();
        r.SkipString();
        r.SkipString(); // extra, failed_node
        if (r.ReadBool())
        {
            r.SkipString();
            r.Skip(8);
            r.SkipString();
            r.Skip(8);
            r.SkipString(); // federation details
        }
        r.SkipString(); // gres_total
        var groupId = r.ReadU32();
        r.Skip(4);
        r.SkipString();
        r.Skip(4); // het fields
        var jobId = r.ReadU32();
        var state = r.ReadU32();
        r.Skip(8); // last_sched_eval
        r.SkipString(); // licenses
        if (version >= ProtocolVersion.V25_05)
        {
            r.SkipString(); // licenses_allocated
        }
        r.Skip(2); // mail_type
        r.SkipString();
        r.SkipString();
        r.SkipString(); // mail_user, mcs_label, mem_per_tres
        var name = r.ReadString();
        r.SkipString(); // network
        r.Skip(8 + 8 + 4 + 4 + 1 + 4 + 8 + 2); // preempt, pre_sus, priority, profile, reboot, req_switch, resize_time, restart_cnt
        r.SkipString();
        r.SkipString();
        r.SkipString(); // resv_name, resv_ports, selinux_context
        r.Skip(4 + 2); // site_factor, start_protocol_ver
        var stateDescription = r.ReadString();
        var reason = r.ReadU32();
        r.Skip(8); // suspend_time
        r.SkipString(); // system_comment
        r.Skip(4); // time_min
        for (var i = 0; i < 8; i++)
        {
            r.SkipString(); // tres_bind .. tres_per_task
        }
        var userId = r.ReadU32();
        var userName = r.ReadString();
        r.Skip(4); // wait4switch
        r.SkipString(); // wckey
        r.SkipString(); // array_task_str
        r.Skip(4); // array_max_tasks
        var timeLimit = r.ReadU32();
        var start = r.ReadTime();
        var end = r.ReadTime();
        r.ReadU32Array(); // priority_array
        r.SkipString();
        r.SkipString(); // priority_array_names, cluster
        var nodes = r.ReadString();
        r.SkipString(); // sched_nodes
        var partition = r.ReadString();
        return new JobInfo
        {
            JobId = jobId,
            UserId = userId,
            GroupId = groupId,
            Name = name,
            UserName = userName,
            RawState = state,
            StateReason = reason,
            TimeLimitMinutes = timeLimit,
            StartTime = start,
            EndTime = end,
            Nodes = nodes,
            Partition = partition,
            Account = account,
            Comment = comment,
            BatchHost = batchHost,
            Container = container,
            ContainerId = containerId,
            StateDescription = stateDescription,
            ExitCode = exitCode,
            DerivedExitCode = derivedExitCode,
        };
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
