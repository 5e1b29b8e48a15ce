using Scrun.Containers;

namespace Scrun.Cli;

/// <summary>The flags that come before the verb, as runc, Podman (conmon) and containerd pass them.</summary>
public sealed record GlobalOptions
{
    /// <summary><c>--root DIR</c>: where container state lives; null means "pick the default".</summary>
    public string? Root { get; init; }

    /// <summary><c>--log</c>, <c>--log-format</c>, <c>--debug</c>, <c>-v</c>.</summary>
    public LogSettings Log { get; init; } = new();

    /// <summary><c>-f SLURM_CONF</c>.</summary>
    public string? SlurmConf { get; init; }

    /// <summary>Flags accepted for compatibility with runc's callers and otherwise ignored, as typed.</summary>
    public IReadOnlyList<string> IgnoredFlags { get; init; } = [];
}
