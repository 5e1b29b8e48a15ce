using Scrun.Slurm.Interop;

namespace Scrun.Containers.Anchor;

/// <summary>
/// What happens to a container, as its anchor hears of it: a verb's request, the end of a
/// phase it set off (creation, the step's launch, its end), a word from Slurm or from the
/// nodes. The anchor takes them one at a time (<see cref="AnchorTransitions"/>).
/// </summary>
internal abstract record AnchorEvent
{
    private AnchorEvent()
    {
    }

    // A verb's request (or the anchor's own process signals, which are kill's).

    /// <summary><c>start</c>.</summary>
    public sealed record Start : AnchorEvent;

    /// <summary><c>kill</c>, or a signal sent to the anchor.</summary>
    public sealed record Kill(Signal Signal) : AnchorEvent;

    /// <summary><c>delete</c> (<c>--force</c>).</summary>
    public sealed record Delete(bool Force) : AnchorEvent;

    /// <summary><c>state</c>.</summary>
    public sealed record Query : AnchorEvent;

    /// <summary><c>exec</c>: a process in the container, its relay on the connection.</summary>
    public sealed record Exec(ExecConnection Connection) : AnchorEvent;

    /// <summary><c>pause</c>.</summary>
    public sealed record Pause : AnchorEvent;

    /// <summary><c>resume</c>.</summary>
    public sealed record Resume : AnchorEvent;

    // The node's runtime, for pause and resume.

    /// <summary>The container's processes are frozen.</summary>
    public sealed record Frozen : AnchorEvent;

    /// <summary>The container's processes are thawed.</summary>
    public sealed record Thawed : AnchorEvent;

    /// <summary>A paused container could not be thawed (for a kill or delete that waited for it).</summary>
    public sealed record ThawFailed(string Reason) : AnchorEvent;

    // Creation.

    /// <summary>The job is allocated, the bundle staged and the pid file written.</summary>
    public sealed record Created : AnchorEvent;

    /// <summary>Creation could not finish.</summary>
    public sealed record CreationFailed(string Reason) : AnchorEvent;

    /// <summary>create went away before it heard how creation ended: nobody will start or delete the container.</summary>
    public sealed record CreatorGone : AnchorEvent;

    // The step.

    /// <summary>The launcher started the step (not yet the container, when the nodes run <c>scrun node-run</c>).</summary>
    public sealed record Launched(RunningStep Step) : AnchorEvent;

    /// <summary>The launcher could not start the step.</summary>
    public sealed record LaunchFailed(string Reason) : AnchorEvent;

    /// <summary>The container's process runs (the nodes said so, or nothing will say more than the launch did).</summary>
    public sealed record Running : AnchorEvent;

    /// <summary>The step runs, but the container will not.</summary>
    public sealed record StartFailed(string Reason) : AnchorEvent;

    /// <summary>The step ended; its exit code is the container's.</summary>
    public sealed record StepExited(int ExitCode) : AnchorEvent;

    // Slurm's word on the job.

    /// <summary>The job ended (its time limit, scancel, a failure): slurmctld said so.</summary>
    public sealed record JobEnded(string Why) : AnchorEvent;

    /// <summary>The job lost nodes.</summary>
    public sealed record NodesFailed(string Nodes) : AnchorEvent;

    /// <summary>The job reached its time limit (its end follows).</summary>
    public sealed record TimeLimitReached : AnchorEvent;

    // The end.

    /// <summary>Stage-out has run and the job is ended (or could not be: <paramref name="JobEndFailure"/>).</summary>
    public sealed record Released(int? ExitCode, string? JobEndFailure) : AnchorEvent;

    /// <summary>Nothing is left to do: the anchor exits.</summary>
    public sealed record Ended : AnchorEvent;
}
