using Scrun.Containers;

namespace Scrun.Cli;

/// <summary><c>create [--bundle DIR] [--console-socket PATH] [--pid-file PATH] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID</c>.</summary>
public sealed record CreateOptions(ContainerId ContainerId) : ContainerVerbOptions(ContainerId)
{
    public override string Verb => "create";

    /// <summary>The bundle directory; null means the current directory.</summary>
    public string? Bundle { get; init; }

    public string? ConsoleSocket { get; init; }

    public string? PidFile { get; init; }

    public bool NoPivot { get; init; }

    public bool NoNewKeyring { get; init; }

    public int PreserveFds { get; init; }
}
