namespace Scrun.Cli;

public enum LogFormat
{
    /// <summary>runc's text lines.</summary>
    Text,

    /// <summary>runc's (logrus) JSON lines, which containerd and Podman read back on failure.</summary>
    Json,

    /// <summary>Docker's json-file lines, <c>{"log","stream","time"}</c>, as Slurm's scrun writes them.</summary>
    DockerJsonFile,
}

/// <summary>The flags that come before the verb, as runc, Podman (conmon) and containerd pass them.</summary>
public sealed record GlobalOptions
{
    /// <summary><c>--root DIR</c>: where container state lives; null means "pick the default".</summary>
    public string? Root { get; init; }

    /// <summary><c>--log FILE</c>.</summary>
    public string? LogFile { get; init; }

    /// <summary><c>--log-format text|json|json-file</c> (SCRUN_LOG_FORMAT overrides it: callers hard-wire the flag).</summary>
    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    /// <summary><c>--debug</c>.</summary>
    public bool Debug { get; init; }

    /// <summary>How many <c>-v</c> were given.</summary>
    public int Verbosity { get; init; }

    /// <summary><c>-f SLURM_CONF</c>.</summary>
    public string? SlurmConf { get; init; }

    /// <summary>Flags accepted for compatibility with runc's callers and otherwise ignored, as typed.</summary>
    public IReadOnlyList<string> IgnoredFlags { get; init; } = [];
}
