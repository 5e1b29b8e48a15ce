using System.Text.Json.Serialization;

namespace Scrun.Containers;

/// <summary>
/// The container's life. The OCI statuses are creating, created, running, stopped; the
/// anchor's internal steps map onto them (<see cref="ContainerStateExtensions.OciStatus"/>).
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<ContainerStatus>))]
public enum ContainerStatus
{
    /// <summary>The anchor is asking for the job, waiting for it, or staging the bundle.</summary>
    Creating,

    /// <summary>The job is allocated and the bundle staged; the step has not been launched.</summary>
    Created,

    /// <summary>start was asked for: the step is being launched, or its nodes have not yet said the container runs.</summary>
    Starting,

    /// <summary>The container's process runs in the step.</summary>
    Running,

    /// <summary>The container's processes are frozen on the node (pause); resume thaws them.</summary>
    Paused,

    /// <summary>The step has ended (or never will, or creation was interrupted); stage-out runs and the job is being released.</summary>
    Stopping,

    /// <summary>Everything is over; the exit code is final.</summary>
    Stopped,
}

/// <summary>What <c>state.json</c> holds: enough for state, kill and delete to answer after the anchor is gone.</summary>
public sealed record ContainerState
{
    public required string Id { get; init; }

    public required ContainerStatus Status { get; init; }

    public string OciVersion { get; init; } = "1.0.0";

    /// <summary>The bundle given to create.</summary>
    public required string Bundle { get; init; }

    /// <summary>The bundle the compute node runs (staged copy).</summary>
    public string? StagedBundle { get; init; }

    /// <summary>scrun made <see cref="StagedBundle"/> (built-in staging) and removes it; a site's scrun.lua cleans up its own.</summary>
    public bool StagedBundleOwned { get; init; }

    /// <summary>The slurm.conf the anchor used: later verbs talk to the same cluster.</summary>
    public string? SlurmConf { get; init; }

    /// <summary>The wire format that cluster's controller spoke ("22.05"): later verbs start with it, no probe.</summary>
    public string? SlurmProtocol { get; init; }

    public string RootPath { get; init; } = "";

    /// <summary>The anchor's process id (what --pid-file names).</summary>
    public int AnchorPid { get; init; }

    public string? PidFile { get; init; }

    public DateTimeOffset Created { get; init; }

    public uint OwnerUid { get; init; }

    public string Owner { get; init; } = "";

    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    public uint? JobId { get; init; }

    /// <summary>The job was allocated by someone else (SLURM_JOB_ID): never completed by scrun.</summary>
    public bool ExistingAllocation { get; init; }

    /// <summary>
    /// The job has been completed or cancelled (or was never scrun's to end). False with a job id
    /// once stopped: ending it failed (slurmctld or munged unreachable) and delete must do it.
    /// </summary>
    public bool JobReleased { get; init; }

    /// <summary>The container's exit code once stopped (0-255, 128+signal for a signal).</summary>
    public int? ExitCode { get; init; }

    /// <summary>Why the container stopped without running or ran short (a failed allocation, a time limit).</summary>
    public string? StopReason { get; init; }
}

public static class ContainerStateExtensions
{
    public static string OciStatus(this ContainerStatus status) => status switch
    {
        ContainerStatus.Creating => "creating",
        ContainerStatus.Created => "created",
        ContainerStatus.Starting or ContainerStatus.Running => "running",
        ContainerStatus.Paused => "paused",
        _ => "stopped",
    };
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerState))]
internal sealed partial class StateJsonContext : JsonSerializerContext;
