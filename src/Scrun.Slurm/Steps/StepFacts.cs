using Scrun.Slurm.Config;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Steps;

/// <summary>What srun knows of one step when it builds its tasks' environment (<see cref="LauncherEnvironment"/>).</summary>
public sealed record StepFacts
{
    /// <summary>The release whose srun the launcher stands in for (<see cref="LauncherEnvironment.ReleaseOf"/>).</summary>
    public required ProtocolVersion Release { get; init; }

    /// <summary>The step's name (srun's <c>--job-name</c>), which is not the job's.</summary>
    public required string JobName { get; init; }

    public required JobAllocation Allocation { get; init; }

    public required JobOwner Owner { get; init; }

    /// <summary>The step slurmctld created: job, step number and, from 25.11, the job's sluid.</summary>
    public required StepId Step { get; init; }

    public required StepLayout Layout { get; init; }

    /// <summary>The ports slurmctld reserved for the step (MpiParams=ports), if any.</summary>
    public string? ReservedPorts { get; init; }

    /// <summary>srun's <c>--container</c> and <c>--container-id</c>.</summary>
    public string? Container { get; init; }

    public string? ContainerId { get; init; }

    /// <summary>Where slurmstepd reports the launch and the tasks' exits.</summary>
    public required ushort ResponsePort { get; init; }

    /// <summary>Pty mode: where slurmstepd connects for window sizes, and the first size.</summary>
    public (ushort Port, WindowSize Size)? Terminal { get; init; }

    public required SlurmConfig Config { get; init; }

    /// <summary>The select plugin's id slurmctld named (22.05), for a <c>SelectType</c> whose id srun's table does not hold.</summary>
    public uint SelectPluginId { get; init; }

    public required LauncherProcess Process { get; init; }
}
