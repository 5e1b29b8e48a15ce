using Scrun.Containers;
using Scrun.Slurm.Config;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace Scrun.Logging;

/// <summary>Builds the process's logger: stderr, plus <c>--log FILE</c> in the chosen format, each at its own level.</summary>
internal static class ScrunLogging
{
    /// <summary>
    /// The anchor's logger: the --log file create was given (from the launch parameters). The
    /// anchor's stderr is the container's, so nothing goes there unless oci.conf's StdIODebug asks,
    /// as with Slurm's scrun; FileDebug sets the file's level. Problems with levels only warn here:
    /// the container must run.
    /// </summary>
    public static Logger ForAnchor(LaunchContext? launch, TextWriter containerStderr)
    {
        var options = launch?.Log ?? new LogSettings();
        var problems = new List<string>();
        LogLevels levels;
        try
        {
            levels = LogLevels.Resolve(options, Environment.GetEnvironmentVariable);
        }
        catch (LogConfigurationException e)
        {
            problems.Add(e.Message);
            levels = new LogLevels(LogEventLevel.Information, LogEventLevel.Information);
        }
        var stderrLevel = SlurmLogLevel.Quiet;
        try
        {
            var slurmConf = Path.GetFullPath(SlurmConfig.Locate(launch?.SlurmConf, Environment.GetEnvironmentVariable("SLURM_CONF")));
            var oci = OciConfig.Load(Path.Combine(Path.GetDirectoryName(slurmConf) ?? "/", OciConfig.FileName));
            stderrLevel = Override(oci.StdIODebug, "StdIODebug", SlurmLogLevel.Quiet, problems);
            levels = levels with { File = Override(oci.FileDebug, "FileDebug", levels.File, problems) };
        }
        catch (Exception e) when (e is SlurmConfigException or IOException or UnauthorizedAccessException)
        {
            problems.Add(e.Message);
        }
        var logger = Build(options, levels with { Stderr = stderrLevel }, containerStderr, problems);
        return logger;
    }

    /// <summary>The CLI's logger; a level variable that is no level is a <see cref="LogConfigurationException"/>.</summary>
    public static Logger Create(LogSettings options, TextWriter stderr) =>
        Build(options, LogLevels.Resolve(options, Environment.GetEnvironmentVariable), stderr, []);

    private static Logger Build(LogSettings options, LogLevels levels, TextWriter stderr, List<string> problems)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(SlurmLogLevel.MostVerbose(levels.Stderr, levels.File))
            .WriteTo.Sink(new StderrSink(stderr), restrictedToMinimumLevel: levels.Stderr);
        if (options.File is { } path)
        {
            try
            {
                configuration.WriteTo.Sink(new AppendFileSink(path, Formatter(options.Format, levels)), restrictedToMinimumLevel: levels.File);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"cannot open log file {path}: {e.Message}");
            }
        }
        var logger = configuration.CreateLogger();
        foreach (var problem in problems)
        {
            logger.Warning("{Problem}", problem);
        }
        return logger;
    }

    private static ITextFormatter Formatter(LogFormat format, LogLevels levels) => format switch
    {
        LogFormat.Json => new RuncJsonFormatter(),
        LogFormat.DockerJsonFile => new DockerJsonFileFormatter(levels.Stderr),
        _ => new RuncTextFormatter(),
    };

    private static LogEventLevel Override(string? value, string key, LogEventLevel fallback, List<string> problems)
    {
        if (value is null)
        {
            return fallback;
        }
        if (SlurmLogLevel.TryParse(value, out var level))
        {
            return level;
        }
        problems.Add($"oci.conf: {key}={value} is not a Slurm debug level; ignored");
        return fallback;
    }
}
