using Serilog.Events;

namespace Scrun.Logging;

/// <summary>
/// Slurm's debug level names and numbers (SCRUN_DEBUG and its siblings, oci.conf StdIODebug and
/// FileDebug) as Serilog levels. Quiet is <see cref="Quiet"/>: nothing passes.
/// </summary>
internal static class SlurmLogLevel
{
    public const LogEventLevel Quiet = (LogEventLevel)((int)LogEventLevel.Fatal + 1);

    private static readonly LogEventLevel[] s_byNumber =
    [
        Quiet, LogEventLevel.Fatal, LogEventLevel.Error, LogEventLevel.Information, LogEventLevel.Debug, LogEventLevel.Debug,
        LogEventLevel.Verbose, LogEventLevel.Verbose, LogEventLevel.Verbose, LogEventLevel.Verbose,
    ];

    private static readonly string[] s_names = ["quiet", "fatal", "error", "info", "verbose", "debug", "debug2", "debug3", "debug4", "debug5"];

    public static bool TryParse(string? text, out LogEventLevel level)
    {
        level = LogEventLevel.Information;
        var value = text?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }
        var index = Array.IndexOf(s_names, value);
        if (index < 0 && int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
        {
            index = Math.Min(number, s_byNumber.Length - 1);
        }
        if (index < 0)
        {
            return false;
        }
        level = s_byNumber[index];
        return true;
    }

    /// <summary>The level a variable asks for, or null when unset; a value that is no level is a one-line error.</summary>
    public static LogEventLevel? FromVariable(string name, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }
        return TryParse(value, out var level)
            ? level
            : throw new LogConfigurationException($"invalid {name}={value} (expected quiet, fatal, error, info, verbose, debug, debug2..debug5 or 0..9)");
    }

    /// <summary>The more talkative of two levels.</summary>
    public static LogEventLevel MostVerbose(LogEventLevel a, LogEventLevel b) => a < b ? a : b;
}

/// <summary>Where log lines go and from which level: stderr (the CLI's, or the container's for an anchor) and the --log file.</summary>
internal sealed record LogLevels(LogEventLevel Stderr, LogEventLevel File)
{
    /// <summary>
    /// Flags (--debug, -v) and SCRUN_DEBUG / SCRUN_STDERR_DEBUG / SCRUN_FILE_DEBUG: a variable sets
    /// its level, flags can only make it more talkative, as with Slurm's scrun.
    /// </summary>
    public static LogLevels Resolve(Containers.LogSettings options, Func<string, string?> environment)
    {
        var flags = options switch
        {
            { Verbosity: >= 2 } => LogEventLevel.Verbose,
            { Debug: true } or { Verbosity: 1 } => LogEventLevel.Debug,
            _ => SlurmLogLevel.Quiet, // no flag: the variables or the default decide
        };
        var both = SlurmLogLevel.FromVariable("SCRUN_DEBUG", environment("SCRUN_DEBUG"));
        var stderr = SlurmLogLevel.FromVariable("SCRUN_STDERR_DEBUG", environment("SCRUN_STDERR_DEBUG")) ?? both;
        var file = SlurmLogLevel.FromVariable("SCRUN_FILE_DEBUG", environment("SCRUN_FILE_DEBUG")) ?? both;
        SlurmLogLevel.FromVariable("SCRUN_SYSLOG_DEBUG", environment("SCRUN_SYSLOG_DEBUG")); // validated; scrun does not log to syslog
        return new LogLevels(
            SlurmLogLevel.MostVerbose(stderr ?? LogEventLevel.Information, flags),
            SlurmLogLevel.MostVerbose(file ?? LogEventLevel.Information, flags));
    }
}

/// <summary>A logging setting that makes no sense (e.g. SCRUN_DEBUG=loud): one line on stderr, exit 1.</summary>
internal sealed class LogConfigurationException(string message) : Exception(message);
