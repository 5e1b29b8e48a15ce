using System.Text.Json;
using System.Text.Json.Serialization;

namespace Scrun.Containers;

/// <summary>The log file formats: runc's text and JSON lines, and Docker's json-file.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LogFormat>))]
public enum LogFormat
{
    /// <summary>runc's text lines.</summary>
    Text,

    /// <summary>runc's (logrus) JSON lines, which containerd and Podman read back on failure.</summary>
    Json,

    /// <summary>Docker's json-file lines, <c>{"log","stream","time"}</c>, as Slurm's scrun writes them.</summary>
    DockerJsonFile,
}

public static class LogFormats
{
    /// <summary>The name on the command line and in <c>SCRUN_LOG_FORMAT</c>.</summary>
    public static string Name(this LogFormat format) => format switch
    {
        LogFormat.Json => "json",
        LogFormat.DockerJsonFile => "json-file",
        _ => "text",
    };

    public static bool TryParse(string? name, out LogFormat format)
    {
        format = name switch
        {
            null or "text" => LogFormat.Text,
            "json" => LogFormat.Json,
            "json-file" => LogFormat.DockerJsonFile,
            _ => (LogFormat)(-1),
        };
        return Enum.IsDefined(format);
    }
}

/// <summary>Where and how scrun logs: <c>--log FILE</c>, <c>--log-format</c>, <c>--debug</c>, <c>-v</c>.</summary>
public sealed record LogSettings
{
    /// <summary><c>--log FILE</c>.</summary>
    public string? File { get; init; }

    /// <summary><c>--log-format text|json|json-file</c> (SCRUN_LOG_FORMAT overrides it: callers hard-wire the flag).</summary>
    public LogFormat Format { get; init; } = LogFormat.Text;

    /// <summary><c>--debug</c>.</summary>
    public bool Debug { get; init; }

    /// <summary>How many <c>-v</c> were given.</summary>
    public int Verbosity { get; init; }
}

/// <summary>
/// Everything one container is created with, as one context: what create was asked for (the
/// command line's global and create options), made absolute by create and handed whole to the
/// anchor it starts, which reads it once. (crun's <c>libcrun_context_s</c> is the model.)
/// </summary>
public sealed record LaunchContext
{
    /// <summary>Where the anchor finds its context: JSON in its environment, removed once read.</summary>
    public const string EnvironmentVariable = "SCRUN_ANCHOR_LAUNCH";

    /// <summary>The hidden verb that runs an anchor.</summary>
    public const string AnchorVerb = "__anchor";

    /// <summary>The state root (set by create: the real path it resolved).</summary>
    public string Root { get; init; } = "";

    public required string Id { get; init; }

    public required string Bundle { get; init; }

    public string? PidFile { get; init; }

    public string? ConsoleSocket { get; init; }

    /// <summary>The anchor logs as create was told to.</summary>
    public LogSettings Log { get; init; } = new();

    /// <summary><c>-f</c>: the slurm.conf the container's cluster is described by.</summary>
    public string? SlurmConf { get; init; }

    /// <summary>
    /// The write end of a pipe create reads: the anchor writes how creation ended there (one JSON
    /// line) and closes it, so create learns it even when the anchor exits at once.
    /// </summary>
    public int ReportDescriptor { get; init; } = -1;

    /// <summary>The container directory's locked descriptor (<see cref="ContainerClaim"/>): the anchor holds the claim for its life.</summary>
    public int ClaimDescriptor { get; init; } = -1;

    /// <summary>The anchor's context, read once from its environment (and removed from it); null when it was not started by create.</summary>
    public static LaunchContext? TakeFromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(EnvironmentVariable);
        Environment.SetEnvironmentVariable(EnvironmentVariable, null);
        try
        {
            return text is null ? null : JsonSerializer.Deserialize(text, LaunchJsonContext.Default.LaunchContext);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The value create puts in <see cref="EnvironmentVariable"/>.</summary>
    public string ToEnvironmentValue() => JsonSerializer.Serialize(this, LaunchJsonContext.Default.LaunchContext);

    /// <summary>This scrun executable running the hidden <paramref name="verb"/> (the anchor, the guard) with this context in its environment.</summary>
    public System.Diagnostics.ProcessStartInfo StartInfo(string verb)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the scrun executable"))
        {
            UseShellExecute = false,
            ArgumentList = { verb },
        };
        psi.Environment[EnvironmentVariable] = ToEnvironmentValue();
        return psi;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LaunchContext))]
internal sealed partial class LaunchJsonContext : JsonSerializerContext;
