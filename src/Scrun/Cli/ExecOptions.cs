using Scrun.Containers;

namespace Scrun.Cli;

/// <summary>
/// <c>exec [--process FILE] [--detach] [--pid-file PATH] [--console-socket PATH] [--tty] [--cwd DIR]
/// [--env K=V]... [--user UID[:GID]] [--cap CAP]... [--no-new-privs] ID [COMMAND...]</c>: runc's
/// flags, as Podman (conmon) and containerd pass them.
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

    public IReadOnlyList<string> Capabilities { get; init; } = [];

    public bool NoNewPrivileges { get; init; }

    public int PreserveFds { get; init; }

    public IReadOnlyList<string> Command { get; init; } = [];
}
