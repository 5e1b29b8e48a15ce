using System.Text.Json.Serialization;

namespace Scrun.Containers;

/// <summary>What kind of failure a container operation met: it crosses the anchor's socket, and the CLI's exit code follows from it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ContainerErrorKind>))]
public enum ContainerErrorKind
{
    /// <summary>The operation failed (the cause is in the message).</summary>
    Failed,

    /// <summary>The container's status does not allow it (runc: "cannot start a container that has stopped").</summary>
    WrongStatus,

    /// <summary>No container of that id.</summary>
    NotFound,

    /// <summary>The container, or a file it names, is not the caller's.</summary>
    PermissionDenied,

    /// <summary>slurmctld or munged could not be asked: trying again later may work.</summary>
    SlurmUnavailable,

    /// <summary>The request itself was broken.</summary>
    BadRequest,
}

/// <summary>A container operation failed in a way the user must hear about (one line).</summary>
public class ContainerException(string message, ContainerErrorKind kind = ContainerErrorKind.Failed) : Exception(message)
{
    public ContainerErrorKind Kind { get; } = kind;

    /// <summary>The CLI's exit status for every kind: runc's 1 (engines read the message, not the number).</summary>
    public int ExitCode => 1;
}

/// <summary>No container of that id.</summary>
internal sealed class ContainerNotFoundException(ContainerId id)
    : ContainerException($"container \"{id}\" does not exist", ContainerErrorKind.NotFound);
