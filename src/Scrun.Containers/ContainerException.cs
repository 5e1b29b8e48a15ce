namespace Scrun.Containers;

/// <summary>A container operation failed in a way the user must hear about (one line).</summary>
public class ContainerException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>No container of that id.</summary>
public sealed class ContainerNotFoundException(ContainerId id)
    : ContainerException($"container \"{id}\" does not exist");
