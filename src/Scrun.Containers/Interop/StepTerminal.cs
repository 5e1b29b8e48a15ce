using System.Runtime.InteropServices;
using Scrun.Slurm.Steps;

namespace Scrun.Containers.Interop;

/// <summary>
/// The step's side of the container's terminal for a launcher in this process: what is typed
/// comes in raw (the line discipline that counts is the container's, on the node), the step's
/// output goes out, and the size is the caller's.
/// </summary>
/// <remarks>
/// Disposing wakes a read that is waiting for input: a thread blocked in read(2) keeps the
/// terminal open after close(2), the relay's other side then never sees its end, and the
/// container's last output would wait for the relay's drain timeout.
/// </remarks>
internal sealed unsafe class StepTerminal : IDisposable
{
    private const int Eintr = 4;
    private readonly Lock _gate = new();
    private readonly int _wakeRead;
    private readonly int _wakeWrite;
    private int _descriptor;
    private int _readers;
    private bool _closing;

    private StepTerminal(int descriptor)
    {
        _descriptor = descriptor;
        (_wakeRead, _wakeWrite) = LibC.Pipe();
        Input = new TerminalInput(this);
        Output = new DescriptorStream(descriptor);
    }

    public Stream Input { get; }

    public Stream Output { get; }

    public static StepTerminal Open(string path)
    {
        var descriptor = LibC.open(path, LibC.ORdwr | LibC.ONoctty | LibC.OCloexec);
        if (descriptor < 0)
        {
            throw new ContainerException($"cannot open the step's terminal {path}: {LibC.LastError()}");
        }
        Terminal.MakeRaw(descriptor);
        return new StepTerminal(descriptor);
    }

    /// <summary>
    /// A descriptor handed over (an exec's, from its relay), now this object's: a terminal made
    /// raw, or (<paramref name="raw"/> false) a plain descriptor read the same wakeable way.
    /// </summary>
    public static StepTerminal Adopt(int descriptor, bool raw)
    {
        if (raw)
        {
            Terminal.MakeRaw(descriptor);
        }
        return new StepTerminal(descriptor);
    }

    /// <summary>The terminal's size; null when it has none (a caller's pty that was never sized).</summary>
    public WindowSize? Size() => Terminal.WindowSizeOf(_descriptor) is { } size ? new WindowSize(size.Columns, size.Rows) : null;

    public void Dispose()
    {
        lock (_gate)
        {
            if (_closing)
            {
                return;
            }
            _closing = true;
            if (_readers == 0)
            {
                CloseAll();
                return;
            }
        }
        byte wake = 1;
        LibC.write(_wakeWrite, &wake, 1); // the reader leaves and closes on its way out
    }

    private void CloseAll()
    {
        LibC.close(Interlocked.Exchange(ref _descriptor, -1));
        LibC.close(_wakeRead);
        LibC.close(_wakeWrite);
    }

    /// <summary>Waits for input or for <see cref="Dispose"/>; 0 at the terminal's end or once disposed.</summary>
    private int Read(Span<byte> buffer)
    {
        lock (_gate)
        {
            if (_closing)
            {
                return 0;
            }
            _readers++;
        }
        try
        {
            var fds = stackalloc LibC.PollDescriptor[2];
            while (true)
            {
                fds[0] = new LibC.PollDescriptor { Fd = _descriptor, Events = LibC.PollIn };
                fds[1] = new LibC.PollDescriptor { Fd = _wakeRead, Events = LibC.PollIn };
                if (LibC.poll(fds, 2, -1) < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Eintr)
                    {
                        continue;
                    }
                    return 0;
                }
                if (fds[1].Returned != 0)
                {
                    return 0;
                }
                if (fds[0].Returned != 0)
                {
                    fixed (byte* data = buffer)
                    {
                        var count = LibC.read(_descriptor, data, (nuint)buffer.Length);
                        if (count < 0 && Marshal.GetLastPInvokeError() == Eintr)
                        {
                            continue;
                        }
                        return count < 0 ? 0 : (int)count; // EIO: the other side has closed
                    }
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                if (--_readers == 0 && _closing)
                {
                    CloseAll();
                }
            }
        }
    }

    private sealed class TerminalInput(StepTerminal terminal) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => terminal.Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer) => terminal.Read(buffer);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
