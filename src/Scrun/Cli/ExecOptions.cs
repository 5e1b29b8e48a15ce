using Scrun.Containers;

namespace Scrun.Cli;

/// <summary>
/// <c>exec [--process FILE] [--detach] [--pid-file PATH] [--console-socket PATH] [--tty] [--cwd DIR]
/// [--env K=V]... [--user UID[:GID]] ID [COMMAND...]</c>, the subset of runc's flags that Podman
/// (conmon) and containerd pass.
/// </summary>
public sealed record ExecOptions(ContainerId ContainerId) : ContainerVerbOptions(ContainerId)
{
    public override string Verb => "exec";

    public string? ProcessFile { get; init; }

    public bool Detach { get; init; }

    public string? PidFile { get; init; }

    public string? ConsoleSocket { get; init; }

    public bool Tty { get; init; }

    public string? Cwd { get; init; }

    public IReadOnlyList<string> Env { get; init; } = [];

    public string? User { get; init; }

    public int PreserveFds { get; init; }

    public IReadOnlyList<string> Command { get; init; } = [];
}
