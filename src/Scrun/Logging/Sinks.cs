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
internal sealed partial class AppendFileSink : ILogEventSink, IDisposable
{
    private readonly StreamWriter _writer;
    private readonly ITextFormatter _formatter;
    private readonly Lock _gate = new();

    public AppendFileSink(string path, ITextFormatter formatter)
    {
        // O_APPEND: create and the anchor write the same file; each line must land at its end.
        var fd = OpenForAppend(path, 0x1 /* O_WRONLY */ | 0x40 /* O_CREAT */ | 0x400 /* O_APPEND */ | 0x80000 /* O_CLOEXEC */, 0x1A4 /* 0644 */);
        if (fd < 0)
        {
            throw new IOException(System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(System.Runtime.InteropServices.Marshal.GetLastPInvokeError()));
        }
        var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
        _writer = new StreamWriter(stream, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        _formatter = formatter;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int OpenForAppend(string path, int flags, int mode);

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
