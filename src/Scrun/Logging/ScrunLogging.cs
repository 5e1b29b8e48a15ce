using Scrun.Cli;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace Scrun.Logging;

/// <summary>Builds the process's logger from the global flags: stderr always, plus <c>--log FILE</c>.</summary>
internal static class ScrunLogging
{
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
