using System.Runtime.InteropServices;
using Scrun.Containers.Interop;

namespace Scrun.Containers.Terminals;

/// <summary>
/// The terminal of a <c>process.terminal</c> container, as two ptys joined by the anchor: the
/// caller's (its master went to <c>--console-socket</c>) and the step's (its slave is srun's
/// terminal). The anchor holds the caller's slave as its controlling terminal, so it gets the
/// SIGWINCH when the caller resizes, and passes the size on to srun.
/// </summary>
/// <remarks>
/// srun 22.05 waits in accept() for slurmstepd's pty connection with SIGWINCH unblocked and
/// no EINTR retry: a resize in that window (Docker resizes right after start) kills its window
/// thread ("pty: accept failure") and the container's terminal goes wrong. So for srun a resize
/// is held until the step has written something, or a few seconds have passed, then applied.
/// </remarks>
internal sealed unsafe class TerminalRelay : IDisposable
{
    private const int Eintr = 4;
    private static readonly TimeSpan s_stepConnectGrace = TimeSpan.FromSeconds(3);

    private readonly int _callerSlave;
    private readonly int _stepMaster;
    private readonly Lock _gate = new();
    private readonly List<PosixSignalRegistration> _signals = [];
    private Thread? _output;
    private Timer? _graceTimer;
    private bool _stepReady;
    private bool _resizePending;

    private TerminalRelay(int callerSlave, int stepMaster, string stepTerminal)
    {
        _callerSlave = callerSlave;
        _stepMaster = stepMaster;
        StepTerminal = stepTerminal;
    }

    /// <summary>The step's terminal was given the caller's new size.</summary>
    public event Action? Resized;

    /// <summary>The step's terminal (/dev/pts/N): srun's stdio and controlling terminal.</summary>
    public string StepTerminal { get; }

    /// <summary>Makes both ptys and sends the caller's master to <paramref name="consoleSocket"/> (when given).</summary>
    public static TerminalRelay Open(string? consoleSocket)
    {
        var (callerMaster, callerSlavePath) = Terminal.Open();
        int callerSlave = -1, stepMaster = -1;
        try
        {
            // A session of our own whose controlling terminal is the caller's pty: resizes reach
            // us. Should that fail, the container still runs, at the size it started with.
            LibC.setsid();
            callerSlave = LibC.open(callerSlavePath, LibC.ORdwr | LibC.ONoctty | LibC.OCloexec);
            if (callerSlave < 0)
            {
                throw new IOException($"cannot open the terminal {callerSlavePath}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
            Terminal.MakeControlling(callerSlave);
            Terminal.MakeRaw(callerSlave); // the line discipline that counts is the container's, on the node
            string stepTerminal;
            (stepMaster, stepTerminal) = Terminal.Open();
            var relay = new TerminalRelay(callerSlave, stepMaster, stepTerminal);
            relay.FollowSignals(); // before the caller has the master: no resize may be lost
            if (consoleSocket is not null)
            {
                Terminal.SendDescriptor(consoleSocket, callerMaster);
            }
            return relay;
        }
        catch
        {
            if (callerSlave >= 0)
            {
                LibC.close(callerSlave);
            }
            if (stepMaster >= 0)
            {
                LibC.close(stepMaster);
            }
            throw;
        }
        finally
        {
            LibC.close(callerMaster);
        }
    }

    /// <summary>Gives the step's pty the caller's current size: srun reads it once, when it starts.</summary>
    public void BeforeLaunch() => CopyWindowSize();

    /// <summary>
    /// Starts copying both ways and passing resizes on; call once the step has been started.
    /// <paramref name="holdResizes"/>: until the step talks (srun, above); else at once.
    /// </summary>
    public void Start(bool holdResizes)
    {
        StartThread("terminal input", () => Copy(_callerSlave, _stepMaster, onFirstBytes: null));
        _output = StartThread("terminal output", () => Copy(_stepMaster, _callerSlave, onFirstBytes: holdResizes ? MarkStepReady : null));
        if (holdResizes)
        {
            _graceTimer = new Timer(_ => MarkStepReady(), null, s_stepConnectGrace, Timeout.InfiniteTimeSpan);
        }
        else
        {
            MarkStepReady();
        }
    }

    /// <summary>Waits for the step's last output to reach the caller (srun has exited).</summary>
    public void Drain(TimeSpan timeout) => _output?.Join(timeout);

    public void Dispose()
    {
        _graceTimer?.Dispose();
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }
        // The copying threads are background threads blocked in read(); the process exit ends them.
    }

    private void FollowSignals()
    {
        // The caller closing its master hangs up our session: the container goes on regardless.
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context => context.Cancel = true));
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context =>
        {
            context.Cancel = true;
            OnResize();
        }));
    }

    private void OnResize()
    {
        lock (_gate)
        {
            if (!_stepReady)
            {
                _resizePending = true;
                return;
            }
        }
        CopyWindowSize();
    }

    private void MarkStepReady()
    {
        bool apply;
        lock (_gate)
        {
            if (_stepReady)
            {
                return;
            }
            _stepReady = true;
            apply = _resizePending;
        }
        if (apply)
        {
            CopyWindowSize();
        }
    }

    private void CopyWindowSize()
    {
        if (Terminal.CopyWindowSize(_callerSlave, _stepMaster))
        {
            Resized?.Invoke();
        }
    }

    private static Thread StartThread(string name, Action body)
    {
        var thread = new Thread(() => body()) { IsBackground = true, Name = name };
        thread.Start();
        return thread;
    }

    /// <summary>Copies until the source hangs up; a gone destination only drops what it would have shown.</summary>
    private static void Copy(int from, int to, Action? onFirstBytes)
    {
        var buffer = new byte[16 * 1024];
        var destination = new DescriptorStream(to); // write(2) until all is written, EINTR retried; does not own the descriptor
        fixed (byte* data = buffer)
        {
            while (true)
            {
                var count = LibC.read(from, data, (nuint)buffer.Length);
                if (count < 0 && Marshal.GetLastPInvokeError() == Eintr)
                {
                    continue;
                }
                if (count <= 0)
                {
                    return; // EIO: every holder of the other side has closed it
                }
                onFirstBytes?.Invoke();
                onFirstBytes = null;
                destination.Write(buffer.AsSpan(0, (int)count));
            }
        }
    }
}
