namespace Scrun.Containers;

/// <summary>
/// What a status says to those outside the anchor, and the refusals runc's callers read. What
/// each status allows is the anchor's table (Anchor/AnchorTransitions); the CLI,
/// once the anchor is gone, refuses as for a container that has stopped.
/// </summary>
internal static class ContainerTransitions
{
    /// <summary>The step has been asked for: the container has run, or was about to.</summary>
    public static bool HasStarted(this ContainerStatus status) => status is not (ContainerStatus.Creating or ContainerStatus.Created);

    /// <summary>The container's end is known: its exit code, when it had one, is final.</summary>
    public static bool HasEnded(this ContainerStatus status) => status is ContainerStatus.Stopping or ContainerStatus.Stopped;

    /// <summary>Why a start is refused, in runc's words (for a status that cannot start).</summary>
    public static ContainerException StartRefusal(this ContainerStatus status, string id) => new(status switch
    {
        ContainerStatus.Creating => $"cannot start container \"{id}\": it is still being created",
        ContainerStatus.Starting or ContainerStatus.Running or ContainerStatus.Paused => $"cannot start container \"{id}\": it is already running",
        _ => $"cannot start container \"{id}\": it has stopped",
    }, ContainerErrorKind.WrongStatus);

    /// <summary>Why a signal is refused, in runc's words (for a status that cannot be killed).</summary>
    public static ContainerException KillRefusal(this ContainerStatus status, string id) =>
        new($"cannot kill container \"{id}\": container not running", ContainerErrorKind.WrongStatus);

    /// <summary>Why a delete is refused, in runc's words (for a status that cannot be deleted).</summary>
    public static ContainerException DeleteRefusal(this ContainerStatus status, string id) =>
        new($"cannot delete container \"{id}\" that is not stopped: {status.OciStatus()}", ContainerErrorKind.WrongStatus);

    /// <summary>Why an exec is refused, in runc's words (for a status that cannot exec).</summary>
    public static ContainerException ExecRefusal(this ContainerStatus status, string id) => new(status switch
    {
        ContainerStatus.Paused => $"cannot exec in container \"{id}\": cannot exec in a paused container (use resume first)",
        ContainerStatus.Creating or ContainerStatus.Created => $"cannot exec in container \"{id}\": it has not been started",
        _ => $"cannot exec in container \"{id}\": cannot exec in a stopped container",
    }, ContainerErrorKind.WrongStatus);

    /// <summary>Why a pause is refused, in runc's words.</summary>
    public static ContainerException PauseRefusal(this ContainerStatus status, string id) =>
        new($"cannot pause container \"{id}\": container not running ({status.OciStatus()})", ContainerErrorKind.WrongStatus);

    /// <summary>Why a resume is refused, in runc's words.</summary>
    public static ContainerException ResumeRefusal(this ContainerStatus status, string id) =>
        new($"cannot resume container \"{id}\": container not paused ({status.OciStatus()})", ContainerErrorKind.WrongStatus);
}
