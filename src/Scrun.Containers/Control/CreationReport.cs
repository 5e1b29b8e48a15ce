using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Scrun.Containers.Interop;

namespace Scrun.Containers.Control;

/// <summary>
/// How create learns how creation ended: a pipe whose only write end the anchor holds. The
/// anchor writes one JSON line (created, or why not) and closes it; end of file without a line
/// means the anchor died. Until it writes, the anchor watches the pipe: create gone (killed, or
/// interrupted by <c>timeout</c> or Ctrl-C) means nobody will ever start or delete the
/// container, so the anchor abandons it and releases its job.
/// </summary>
internal sealed class CreationReport : IDisposable
{
    private int _descriptor;
    private readonly int _wakeRead;
    private readonly int _wakeWrite;
    private readonly Thread? _watch;
    private int _watching;

    /// <summary>The anchor's side: <paramref name="descriptor"/> is the pipe's write end; <paramref name="creatorGone"/> runs if create goes away first.</summary>
    public CreationReport(int descriptor, Action creatorGone)
    {
        _descriptor = descriptor;
        if (descriptor < 0)
        {
            _wakeRead = _wakeWrite = -1;
            return;
        }
        LibC.SetCloseOnExec(descriptor, true); // srun and staging hooks must not hold create's pipe open
        (_wakeRead, _wakeWrite) = LibC.Pipe();
        _watching = 1;
        _watch = new Thread(() => Watch(creatorGone)) { IsBackground = true, Name = "creation report watch" };
        _watch.Start();
    }

    /// <summary>create's side: a pipe whose write end (close-on-exec cleared) goes to the anchor.</summary>
    public static (int Read, int Write) OpenPipe() => LibC.InheritablePipe();

    /// <summary>create's side: the anchor's report, or null when it exited without one.</summary>
    public static async Task<ControlResponse?> ReadAsync(int descriptor, CancellationToken cancellation)
    {
        using var reader = new StreamReader(new FileStream(new SafeFileHandle(descriptor, ownsHandle: true), FileAccess.Read, 1));
        var line = await reader.ReadLineAsync(cancellation);
        try
        {
            return line is null ? null : JsonSerializer.Deserialize(line, ControlJsonContext.Default.ControlResponse);
        }
        catch (JsonException)
        {
            return new ControlResponse { Error = $"the anchor sent a broken report: {line}" };
        }
    }

    /// <summary>Sends the report, once; false when create is gone and did not get it.</summary>
    public bool Send(ControlResponse response)
    {
        var fd = Interlocked.Exchange(ref _descriptor, -1);
        if (fd < 0)
        {
            return _watch is null; // nobody asked (an anchor not started by create), or sent already
        }
        StopWatching();
        try
        {
            using var report = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, 1);
            report.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(response, ControlJsonContext.Default.ControlResponse) + "\n"));
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        StopWatching();
        var fd = Interlocked.Exchange(ref _descriptor, -1);
        if (fd >= 0)
        {
            LibC.close(fd);
        }
    }

    private unsafe void StopWatching()
    {
        if (_watch is null || Interlocked.Exchange(ref _watching, 0) == 0)
        {
            return;
        }
        byte wake = 1;
        _ = LibC.write(_wakeWrite, &wake, 1); // the thread may have ended already: the pipe is still ours
        _watch.Join();
        LibC.close(_wakeRead);
        LibC.close(_wakeWrite);
    }

    /// <summary>A pipe's write end polls POLLERR once its read end is closed: create has gone.</summary>
    private unsafe void Watch(Action creatorGone)
    {
        var fds = stackalloc LibC.PollDescriptor[2];
        fds[0] = new LibC.PollDescriptor { Fd = _descriptor, Events = 0 };
        fds[1] = new LibC.PollDescriptor { Fd = _wakeRead, Events = LibC.PollIn };
        while (LibC.poll(fds, 2, -1) < 0 && Marshal.GetLastPInvokeError() == LibC.Eintr)
        {
        }
        if ((fds[0].Returned & (LibC.PollError | LibC.PollHangUp)) != 0 && fds[1].Returned == 0)
        {
            Task.Run(creatorGone); // not on this thread: what it sets off ends in Send, which joins it
        }
    }

}
