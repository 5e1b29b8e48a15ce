using System.Text.Json;
using Serilog.Events;
using Serilog.Formatting;

namespace Scrun.Logging;

/// <summary>runc's JSON log lines, which containerd and Podman read back to report a failure: <c>{"level":"error","msg":"...","time":"..."}</c>.</summary>
internal sealed class RuncJsonFormatter : ITextFormatter
{
    public void Format(LogEvent logEvent, TextWriter output)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, LogEventText.JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("level", LogEventText.Level(logEvent.Level));
            json.WriteString("msg", LogEventText.Message(logEvent));
            json.WriteString("time", LogEventText.Time(logEvent.Timestamp));
            json.WriteEndObject();
        }
        output.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        output.Write('\n');
    }
}

/// <summary>runc's text log lines: <c>time="..." level=error msg="..."</c>.</summary>
internal sealed class RuncTextFormatter : ITextFormatter
{
    public void Format(LogEvent logEvent, TextWriter output)
    {
        output.Write("time=\"");
        output.Write(LogEventText.Time(logEvent.Timestamp));
        output.Write("\" level=");
        output.Write(LogEventText.Level(logEvent.Level));
        output.Write(" msg=\"");
        output.Write(LogEventText.Message(logEvent).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal));
        output.Write("\"\n");
    }
}

/// <summary>
/// Docker's json-file container-log lines, the format Slurm's scrun writes its --log in:
/// <c>{"log":"error: ...\n","stream":"stderr","time":"..."}</c>. The stream is stderr for what
/// would also reach stderr at its level, stdout for the rest.
/// </summary>
internal sealed class DockerJsonFileFormatter(LogEventLevel stderrLevel) : ITextFormatter
{
    public void Format(LogEvent logEvent, TextWriter output)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, LogEventText.JsonOptions))
        {
            json.WriteStartObject();
            var prefix = logEvent.Level == LogEventLevel.Information ? "" : LogEventText.Level(logEvent.Level) + ": ";
            json.WriteString("log", prefix + LogEventText.Message(logEvent) + "\n");
            json.WriteString("stream", logEvent.Level >= stderrLevel ? "stderr" : "stdout");
            json.WriteString("time", LogEventText.Time(logEvent.Timestamp));
            json.WriteEndObject();
        }
        output.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        output.Write('\n');
    }
}
