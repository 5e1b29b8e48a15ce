using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace Scrun.Logging;

/// <summary>Writes <c>scrun: level: message</c> lines, the shape Slurm's tools use on stderr.</summary>
internal sealed class StderrSink(TextWriter stderr) : ILogEventSink
{
    public void Emit(LogEvent logEvent)
    {
        var prefix = logEvent.Level switch
        {
            LogEventLevel.Information => "scrun: ",
            LogEventLevel.Fatal => "scrun: fatal: ",
            _ => $"scrun: {LogEventText.Level(logEvent.Level)}: ",
        };
        stderr.Write(prefix + LogEventText.Message(logEvent) + "\n");
        stderr.Flush();
    }
}

/// <summary>Appends formatted events to a file, flushing each one: the process may be killed at any time.</summary>
internal sealed class AppendFileSink : ILogEventSink, IDisposable
{
    private readonly StreamWriter _writer;
    private readonly ITextFormatter _formatter;
    private readonly Lock _gate = new();

    public AppendFileSink(string path, ITextFormatter formatter)
    {
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        _writer = new StreamWriter(stream, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        _formatter = formatter;
    }

    public void Emit(LogEvent logEvent)
    {
        lock (_gate)
        {
            _formatter.Format(logEvent, _writer);
            _writer.Flush();
        }
    }

    public void Dispose() => _writer.Dispose();
}
