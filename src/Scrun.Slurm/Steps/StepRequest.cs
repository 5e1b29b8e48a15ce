namespace Scrun.Slurm.Steps;

/// <summary>What a step launched natively runs: one task per node of the job, in its container.</summary>
public sealed record StepRequest
{
    public required uint JobId { get; init; }

    /// <summary>How many of the allocation's nodes the step runs on (all of them for a container): one task on each.</summary>
    public required uint NodeCount { get; init; }

    /// <summary>The job owner's uid and gid: 22.05's slurmctld and slurmd check them against the credential.</summary>
    public required uint UserId { get; init; }

    public required uint GroupId { get; init; }

    public required string Name { get; init; }

    /// <summary>The OCI bundle slurmstepd runs through oci.conf; null runs <see cref="Arguments"/> on the node itself.</summary>
    public string? Container { get; init; }

    public string? ContainerId { get; init; }

    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>
    /// The task's environment as srun's own would be, <c>NAME=value</c>; what srun adds to it is
    /// added (<see cref="LauncherEnvironment"/>).
    /// </summary>
    public required IReadOnlyList<string> Environment { get; init; }

    /// <summary>What srun would learn of the job from its allocation lookup, for the task's environment.</summary>
    public required JobAllocation Allocation { get; init; }

    /// <summary>The limits, mask and priority passed on to the task as srun passes its own; null: this process's.</summary>
    public LauncherProcess? Launcher { get; init; }

    public required string WorkingDirectory { get; init; }

    /// <summary>
    /// <c>srun --overlap</c>: the step shares the job's resources and takes none from the steps
    /// beside it (a helper task, not the job's work).
    /// </summary>
    public bool Overlapping { get; init; }

    /// <summary>Pty mode: task 0 runs on a terminal of this size, its stderr merged into its stdout.</summary>
    public WindowSize? Terminal { get; init; }

    /// <summary>How long slurmctld's "busy" answers (a suspended job's, nodes still busy) are retried before the creation fails; null: as long as it takes.</summary>
    public TimeSpan? BusyPatience { get; init; }

    /// <summary>How long a step whose I/O broke off is given to report its tasks' exit before it is taken as lost.</summary>
    public TimeSpan LostStepGrace { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Where the step's stdio goes: <see cref="Input"/> (null: none) is sent to every task; output and error come back here.</summary>
public sealed record StepStreams(Stream? Input, Stream Output, Stream Error);
