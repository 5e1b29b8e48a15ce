using System.Runtime.InteropServices;
using System.Threading.Channels;
using Scrun.Slurm.Interop;
using Serilog;

namespace Scrun.Containers;

/// <summary>
/// The signals a foreground process takes while what it stands for lives (run's container, an
/// exec's process), passed on one at a time, in the order they came (runc's run and exec forward
/// what they receive). Once <see cref="Stop"/> is called
/// they are still taken, and dropped, until disposed: run has its cleanup to finish.
/// </summary>
public sealed class ForwardedSignals : IDisposable
{
    /// <summary>What a terminal, a shell's <c>kill</c> or a scheduler sends a foreground process to end or poke it.</summary>
    public static readonly IReadOnlyList<Signal> Forwarded = [Signal.Hangup, Signal.Interrupt, Signal.Quit, Signal.User1, Signal.User2, Signal.Terminate];

    private readonly Channel<Signal> _received = Channel.CreateUnbounded<Signal>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<PosixSignalRegistration> _registrations;
    private readonly Task _forwarding;

    /// <param name="forward">Passes one signal on.</param>
    /// <param name="log">Where a signal that could not be passed on is said (at debug: a container that has just stopped refuses it).</param>
    public ForwardedSignals(Func<Signal, Task> forward, ILogger log)
    {
        _registrations = [.. Forwarded.Select(signal => PosixSignalRegistration.Create(PosixSignalOf(signal), context =>
        {
            context.Cancel = true;
            _received.Writer.TryWrite(signal);
        }))];
        _forwarding = Task.Run(async () =>
        {
            await foreach (var signal in _received.Reader.ReadAllAsync())
            {
                try
                {
                    await forward(signal);
                }
                catch (Exception e) when (e is ContainerException or IOException or UnauthorizedAccessException)
                {
                    log.Debug("signal {Signal} not passed on to the container: {Message}", signal.Number, e.Message);
                }
            }
        });
    }

    /// <summary>.NET's name for the signals it has one for (its own handling of them is then ours), the raw number for the others.</summary>
    public static PosixSignal PosixSignalOf(Signal signal) => signal.Number switch
    {
        1 => PosixSignal.SIGHUP,
        2 => PosixSignal.SIGINT,
        3 => PosixSignal.SIGQUIT,
        15 => PosixSignal.SIGTERM,
        var number => (PosixSignal)number,
    };

    /// <summary>Waits for the signals already taken to be passed on, then passes on no more (the container has exited): later ones are taken and dropped.</summary>
    public void Stop()
    {
        _received.Writer.TryComplete();
        _forwarding.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        Stop();
        _registrations.ForEach(registration => registration.Dispose());
    }
}
