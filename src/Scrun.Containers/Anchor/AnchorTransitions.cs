using Scrun.Slurm.Interop;
using static Scrun.Containers.Anchor.AnchorEvent;
using Status = Scrun.Containers.ContainerStatus;

namespace Scrun.Containers.Anchor;

/// <summary>What the anchor does about an event, besides changing the status.</summary>
internal enum AnchorEffect
{
    /// <summary>Nothing (a state's reply, an event that changes nothing now).</summary>
    None,

    /// <summary>The request is refused, in runc's words.</summary>
    Refuse,

    /// <summary>The event is taken again once the step is launched or the status changes.</summary>
    Defer,

    /// <summary>Creation ended well: create hears it.</summary>
    Report,

    /// <summary>Creation is interrupted; what it made is undone when it returns.</summary>
    AbortCreation,

    /// <summary>Creation failed or was interrupted: the job is cancelled and the staging undone.</summary>
    UndoCreation,

    /// <summary>The step is launched.</summary>
    Launch,

    /// <summary>The launched step's exit and its nodes' reports are taken in.</summary>
    Attach,

    /// <summary>The signal goes to the container's process (a KILL again until it stops).</summary>
    SignalContainer,

    /// <summary>An exec's process is started in the container, on its node.</summary>
    StartExec,

    /// <summary>The container's processes are frozen on the node.</summary>
    Freeze,

    /// <summary>The container's processes are thawed on the node.</summary>
    Thaw,

    /// <summary>The event waits for the paused container to be thawed first (a kill, a forced delete).</summary>
    ThawFirst,

    /// <summary>What waited for a thaw that failed is refused.</summary>
    RefuseWaiting,

    /// <summary>The whole step is killed through slurmctld.</summary>
    KillStep,

    /// <summary>A step that will hear nothing more from its nodes is given up.</summary>
    AbandonStep,

    /// <summary>Stage-out, the lease's release, the job's end.</summary>
    WindDown,

    /// <summary>A failed creation's job that could not be cancelled is cancelled now, for delete.</summary>
    CancelLeftJob,

    /// <summary>Stopped: a failed creation is reported and its directory removed.</summary>
    Finish,

    /// <summary>The anchor's work is done: it exits.</summary>
    Exit,
}

/// <summary>The anchor's answer to an event in a status: the next status and what it does.</summary>
internal readonly record struct Transition(ContainerStatus Next, AnchorEffect Effect)
{
    /// <summary>
    /// The change must be on disk before it counts (created: create returns; starting: the step
    /// is launched); the others have happened whether or not they can be written.
    /// </summary>
    public bool MustBeRecorded(ContainerStatus from) => Next != from && Next is Status.Created or Status.Starting;
}

/// <summary>
/// The container's life as a table: (status, event) → (status, effect). The anchor applies it to
/// one event at a time, and nothing else changes the status. A status without an entry for an
/// event ignores it.
/// </summary>
internal static class AnchorTransitions
{
    /// <param name="status">The container's status.</param>
    /// <param name="anchorEvent">What happened.</param>
    /// <param name="stepLaunched">Whether the step has been launched (while starting, the launch takes a moment).</param>
    public static Transition Decide(ContainerStatus status, AnchorEvent anchorEvent, bool stepLaunched) => (status, anchorEvent) switch
    {
        (_, Query) => Stay(status, AnchorEffect.None),

        (Status.Created, Start) => Go(Status.Starting, AnchorEffect.Launch),
        (_, Start) => Stay(status, AnchorEffect.Refuse),

        (Status.Creating or Status.Created, Kill { Signal.IsIgnoredByDefault: true }) => Stay(status, AnchorEffect.None),
        (Status.Creating, Kill) => Go(Status.Stopping, AnchorEffect.AbortCreation),
        (Status.Created, Kill) => Go(Status.Stopping, AnchorEffect.WindDown),
        // A KILL before the container runs (or that never will) takes the whole step; other signals wait for its process.
        (Status.Starting, Kill kill) when stepLaunched && kill.Signal == Signal.Kill => Stay(status, AnchorEffect.KillStep),
        (Status.Starting, Kill) => Stay(status, AnchorEffect.Defer),
        (Status.Running, Kill) => Stay(status, AnchorEffect.SignalContainer),
        // A frozen container's processes would keep a signal pending: thawed first, as runc's callers do.
        (Status.Paused, Kill) => Stay(status, AnchorEffect.ThawFirst),
        (_, Kill) => Stay(status, AnchorEffect.Refuse),

        (Status.Creating, Delete { Force: true }) => Go(Status.Stopping, AnchorEffect.AbortCreation),
        (Status.Created, Delete) => Go(Status.Stopping, AnchorEffect.WindDown),
        (Status.Starting, Delete { Force: true }) when stepLaunched => Stay(status, AnchorEffect.KillStep),
        (Status.Starting, Delete { Force: true }) => Stay(status, AnchorEffect.Defer),
        (Status.Running, Delete { Force: true }) => Stay(status, AnchorEffect.KillStep),
        (Status.Paused, Delete { Force: true }) => Stay(status, AnchorEffect.ThawFirst),
        (Status.Stopping, Delete) => Stay(status, AnchorEffect.None),
        (Status.Stopped, Delete) => Stay(status, AnchorEffect.CancelLeftJob),
        (_, Delete) => Stay(status, AnchorEffect.Refuse),

        (Status.Creating, Created) => Go(Status.Created, AnchorEffect.Report),
        (Status.Creating or Status.Created, CreationFailed) => Go(Status.Stopping, AnchorEffect.UndoCreation),
        (Status.Creating, CreatorGone) => Go(Status.Stopping, AnchorEffect.AbortCreation),
        // Interrupted while it ran: what it made is undone either way.
        (Status.Stopping, Created or CreationFailed) => Stay(status, AnchorEffect.UndoCreation),

        (Status.Starting, Launched) => Stay(status, AnchorEffect.Attach),
        (Status.Starting, LaunchFailed) => Go(Status.Stopping, AnchorEffect.WindDown),
        (Status.Starting, Running) => Go(Status.Running, AnchorEffect.None),
        (Status.Starting, StartFailed) when stepLaunched => Go(Status.Stopping, AnchorEffect.KillStep),
        (Status.Starting or Status.Running or Status.Paused or Status.Stopping, StepExited) => Go(Status.Stopping, AnchorEffect.WindDown),

        (Status.Running, Exec) => Stay(status, AnchorEffect.StartExec),
        (Status.Starting, Exec) => Stay(status, AnchorEffect.Defer),
        (_, Exec) => Stay(status, AnchorEffect.Refuse),

        (Status.Running, Pause) => Stay(status, AnchorEffect.Freeze),
        (_, Pause) => Stay(status, AnchorEffect.Refuse),
        (Status.Running, Frozen) => Go(Status.Paused, AnchorEffect.None),
        (Status.Paused, Resume) => Stay(status, AnchorEffect.Thaw),
        (_, Resume) => Stay(status, AnchorEffect.Refuse),
        (Status.Paused, Thawed) => Go(Status.Running, AnchorEffect.None),
        (Status.Paused, ThawFailed) => Stay(status, AnchorEffect.RefuseWaiting),

        (Status.Creating, JobEnded) => Go(Status.Stopping, AnchorEffect.AbortCreation),
        (Status.Created, JobEnded) => Go(Status.Stopping, AnchorEffect.WindDown),
        (Status.Starting, JobEnded or NodesFailed) when stepLaunched => Stay(status, AnchorEffect.AbandonStep),
        (Status.Starting, JobEnded or NodesFailed) => Stay(status, AnchorEffect.Defer),
        (Status.Running or Status.Paused, JobEnded or NodesFailed) => Stay(status, AnchorEffect.AbandonStep),

        (Status.Stopping, Released) => Go(Status.Stopped, AnchorEffect.Finish),
        (Status.Stopped, Ended) => Stay(status, AnchorEffect.Exit),

        _ => Stay(status, AnchorEffect.None),
    };

    private static Transition Go(ContainerStatus next, AnchorEffect effect) => new(next, effect);

    private static Transition Stay(ContainerStatus status, AnchorEffect effect) => new(status, effect);
}
