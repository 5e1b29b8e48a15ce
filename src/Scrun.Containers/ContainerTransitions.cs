namespace Scrun.Containers;

/// <summary>
/// What each status allows, and the refusal runc's callers read when it does not. The anchor
/// asks on its live status; the CLI, once the anchor is gone, on a container that has stopped.
/// </summary>
public static class ContainerTransitions
{
    /// <summary>Only a created container starts, once.</summary>
    public static bool CanStart(this ContainerStatus status) => status == ContainerStatus.Created;

    /// <summary>A container is signalled until it stops: before it runs, a signal ends it.</summary>
    public static bool CanKill(this ContainerStatus status) => status < ContainerStatus.Stopping;

    /// <summary>
    /// A created or stopped container is deleted; anything else only by force. Stopping (stage-out,
    /// the job's end) is "stopped" to callers, so it is deleted too, once the anchor is done.
    /// </summary>
    public static bool CanDelete(this ContainerStatus status, bool force) =>
        force || status is ContainerStatus.Created or ContainerStatus.Stopping or ContainerStatus.Stopped;

    /// <summary>Why a start is refused, in runc's words (for a status that cannot start).</summary>
    public static string StartRefusal(this ContainerStatus status, string id) => status switch
    {
        ContainerStatus.Creating => $"cannot start container \"{id}\": it is still being created",
        ContainerStatus.Starting or ContainerStatus.Running => $"cannot start container \"{id}\": it is already running",
        _ => $"cannot start container \"{id}\": it has stopped",
    };

    /// <summary>Why a signal is refused, in runc's words (for a status that cannot be killed).</summary>
    public static string KillRefusal(this ContainerStatus status, string id) => $"cannot kill container \"{id}\": container not running";

    /// <exception cref="ContainerException">The start is refused.</exception>
    public static void EnsureCanStart(this ContainerStatus status, string id)
    {
        if (!status.CanStart())
        {
            throw new ContainerException(status.StartRefusal(id));
        }
    }

    /// <exception cref="ContainerException">The signal is refused.</exception>
    public static void EnsureCanKill(this ContainerStatus status, string id)
    {
        if (!status.CanKill())
        {
            throw new ContainerException(status.KillRefusal(id));
        }
    }

    /// <exception cref="ContainerException">The delete is refused, in runc's words.</exception>
    public static void EnsureCanDelete(this ContainerStatus status, string id, bool force)
    {
        if (!status.CanDelete(force))
        {
            throw new ContainerException($"cannot delete container \"{id}\" that is not stopped: {status.OciStatus()}");
        }
    }
}
