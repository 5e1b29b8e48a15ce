using Scrun.Containers;

namespace Scrun.Cli;

/// <summary><c>run [--bundle DIR] [--console-socket PATH] [--pid-file PATH] [--detach] ... ID</c>: create, start and wait.</summary>
public sealed record RunOptions(ContainerId ContainerId) : ContainerVerbOptions(ContainerId)
{
    public override string Verb => "run";

    public string? Bundle { get; init; }

    public string? ConsoleSocket { get; init; }

    public string? PidFile { get; init; }

    public bool Detach { get; init; }

    public bool Keep { get; init; }

    public int PreserveFds { get; init; }
}
