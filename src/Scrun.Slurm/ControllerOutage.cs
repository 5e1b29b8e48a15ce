using Scrun.Slurm.Auth;

namespace Scrun.Slurm;

/// <summary>
/// Riding out a controller outage: slurmctld restarting or failing over, or munged restarting.
/// A call that finds no controller (or no munged) is retried with a growing pause, up to
/// <see cref="Budget"/> from the first failure of the outage; an answer, even a refusal, ends it.
/// <c>retrying</c> hears each failure that is ridden out.
/// </summary>
public sealed class ControllerOutage(TimeSpan budget, Action<Exception>? retrying = null, TimeProvider? time = null)
{
    private static readonly TimeSpan s_firstPause = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan s_longestPause = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long? _outageStarted;
    private TimeSpan _pause = s_firstPause;

    /// <summary>How long an outage is ridden out before its failure stands.</summary>
    public TimeSpan Budget { get; } = budget;

    /// <summary>
    /// The tolerance a client of <paramref name="slurmctldTimeout"/>'s cluster gives a controller:
    /// SlurmctldTimeout (how long a backup controller waits before taking over), and never less
    /// than two minutes, the time a slurmctld with a large state needs to come back.
    /// </summary>
    public static ControllerOutage For(TimeSpan slurmctldTimeout, Action<Exception>? retrying = null) =>
        new(slurmctldTimeout > TimeSpan.FromMinutes(2) ? slurmctldTimeout : TimeSpan.FromMinutes(2), retrying);

    /// <summary>No controller or no munged answered: the kind of failure an outage is made of.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        SlurmUnreachableException or TimeoutException => true,
        MungeException munge => munge.MungeError == MungeException.SocketError,
        SlurmProtocolException => true, // the controller went away in the middle of its reply
        _ => false,
    };

    /// <summary>Calls <paramref name="call"/> until it answers, or fails in a way that is not an outage, or the budget is spent.</summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellation = default)
    {
        while (true)
        {
            try
            {
                var result = await call(cancellation);
                _outageStarted = null;
                _pause = s_firstPause;
                return result;
            }
            catch (Exception e) when (IsTransient(e) && !cancellation.IsCancellationRequested && Within())
            {
                retrying?.Invoke(e);
                await Task.Delay(NextPause(), _time, cancellation);
            }
        }
    }

    public Task RunAsync(Func<CancellationToken, Task> call, CancellationToken cancellation = default) =>
        RunAsync(async token =>
        {
            await call(token);
            return true;
        }, cancellation);

    private bool Within()
    {
        var now = _time.GetTimestamp();
        _outageStarted ??= now;
        return _time.GetElapsedTime(_outageStarted.Value, now) < Budget;
    }

    private TimeSpan NextPause()
    {
        var pause = _pause;
        _pause = _pause * 2 < s_longestPause ? _pause * 2 : s_longestPause;
        return pause;
    }
}
