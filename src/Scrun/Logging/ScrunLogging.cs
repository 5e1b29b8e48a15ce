using Scrun.Cli;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace Scrun.Logging;

/// <summary>Builds the process's logger from the global flags: stderr always, plus <c>--log FILE</c>.</summary>
internal static class ScrunLogging
{
    /// <summary>
    /// The anchor's logger: the --log file that create was given (from the launch parameters),
    /// never stderr, which belongs to the container.
    /// </summary>
    public static Logger ForAnchor()
    {
        var text = Environment.GetEnvironmentVariable(Containers.Anchor.AnchorLaunch.EnvironmentVariable);
        Containers.Anchor.AnchorLaunch? launch = null;
        try
        {
            launch = text is null ? null : System.Text.Json.JsonSerializer.Deserialize(text, Containers.Anchor.ControlJsonContext.Default.AnchorLaunch);
        }
        catch (System.Text.Json.JsonException)
        {
        }
        var options = new GlobalOptions
        {
            LogFile = launch?.LogFile,
            LogFormat = launch?.JsonLog == true ? LogFormat.Json : LogFormat.Text,
            Debug = launch?.Debug ?? false,
            Verbosity = launch?.Verbosity ?? 0,
        };
        return Create(options, TextWriter.Null);
    }

    public static Logger Create(GlobalOptions options, TextWriter stderr)
    {
        var level = options switch
        {
            { Verbosity: >= 2 } => LogEventLevel.Verbose,
            { Debug: true } or { Verbosity: 1 } => LogEventLevel.Debug,
            _ => LogEventLevel.Information,
        };
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .WriteTo.Sink(new StderrSink(stderr));
        string? fileProblem = null;
        if (options.LogFile is { } path)
        {
            try
            {
                configuration.WriteTo.Sink(new AppendFileSink(path, options.LogFormat == LogFormat.Json
                    ? new RuncJsonFormatter()
                    : new RuncTextFormatter()));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                fileProblem = $"cannot open log file {path}: {e.Message}";
            }
        }
        var logger = configuration.CreateLogger();
        if (fileProblem is not null)
        {
            logger.Warning("{Problem}", fileProblem);
        }
        return logger;
    }
}
