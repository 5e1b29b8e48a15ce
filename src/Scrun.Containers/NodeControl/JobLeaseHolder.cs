using System.Net.Sockets;
using Scrun.Slurm;

namespace Scrun.Containers.NodeControl;

/// <summary>
/// <c>scrun __lease</c>, the lease step's task on the job's first node (see
/// <see cref="JobLeaseProtocol"/>): it holds the container's job for its anchor, and cancels the
/// job once the anchor is gone without releasing it: its connection closed and not made again,
/// or silent past <see cref="JobLeaseProtocol.Silence"/>. It asks slurmctld as the job's owner,
/// through this node's slurm.conf and munged.
/// </summary>
public sealed class JobLeaseHolder
{
    private static readonly TimeSpan s_cancelPersistence = TimeSpan.FromHours(1);

    private readonly TextWriter _stderr;
    private readonly Func<string, string?> _variable;
    private readonly TimeSpan _silence;
    private readonly TimeSpan _reconnection;

    /// <param name="stderr">The step's stderr (the anchor's, while it lives).</param>
    /// <param name="variable">The task's environment.</param>
    public JobLeaseHolder(TextWriter stderr, Func<string, string?> variable)
        : this(stderr, variable, silence: null, reconnection: null)
    {
    }

    /// <param name="stderr">The step's stderr (the anchor's, while it lives).</param>
    /// <param name="variable">The task's environment.</param>
    /// <param name="silence">How long a silent anchor is waited for (<see cref="JobLeaseProtocol.Silence"/>).</param>
    /// <param name="reconnection">How long the lease tries to reach its anchor again (<see cref="JobLeaseProtocol.Reconnection"/>).</param>
    internal JobLeaseHolder(TextWriter stderr, Func<string, string?> variable, TimeSpan? silence, TimeSpan? reconnection)
    {
        _stderr = stderr;
        _variable = variable;
        _silence = silence ?? JobLeaseProtocol.Silence;
        _reconnection = reconnection ?? JobLeaseProtocol.Reconnection;
    }

    /// <summary>
    /// Holds the job until the anchor releases it (0), or cancels it once the anchor is lost (0,
    /// or 1 when slurmctld would not cancel it); 1 without the step's parameters. The signals
    /// Slurm or a user may send every step of the job are the verb's to outlive.
    /// </summary>
    public async Task<int> RunAsync()
    {
        if (!JobLeaseProtocol.TryParseEnvironmentValue(_variable(JobLeaseProtocol.EnvironmentVariable), out var port, out var token, out var job)
            || _variable(NodeControlProtocol.LaunchHostVariable) is not { Length: > 0 } host)
        {
            _stderr.Write($"scrun: error: {JobLeaseProtocol.Verb} is started by a container's anchor, as a step of its job\n");
            return 1;
        }
        if (await HoldAsync(host, port, token))
        {
            return 0;
        }
        _stderr.Write($"scrun: the anchor of job {job} is gone: the job is cancelled\n");
        return await CancelAsync(job);
    }

    /// <summary>Holds the lease while the anchor lives; true once it was released, false once the anchor is lost.</summary>
    private async Task<bool> HoldAsync(string host, int port, string token)
    {
        var anchor = await ConnectAsync(host, port, token);
        while (anchor is not null)
        {
            await using (anchor)
            {
                try
                {
                    while (true)
                    {
                        using var silent = new CancellationTokenSource(_silence);
                        var line = await anchor.ReadLineAsync(silent.Token);
                        if (line is null)
                        {
                            break; // its connection closed
                        }
                        if (line + "\n" == JobLeaseProtocol.Release)
                        {
                            return true;
                        }
                    }
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
                {
                }
            }
            anchor = await ConnectAsync(host, port, token);
        }
        return false;
    }

    /// <summary>
    /// The anchor's port, said hello to; null when its host refuses the connection (the anchor
    /// is gone), or cannot be reached within the reconnection's time (the host is).
    /// </summary>
    private async Task<LineChannel?> ConnectAsync(string host, int port, string token)
    {
        var deadline = DateTime.UtcNow + _reconnection;
        while (true)
        {
            try
            {
                using var patience = new CancellationTokenSource(deadline - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero);
                return await LineChannel.ConnectAsync(host, port, token, patience.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                return null; // the anchor's host answers and its port is closed: the anchor is gone
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
            }
            if (DateTime.UtcNow >= deadline)
            {
                return null;
            }
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Cancels the job, riding out slurmctld's and munged's silence for an hour.</summary>
    private async Task<int> CancelAsync(uint job)
    {
        try
        {
            var slurm = SlurmClientSettings.FromEnvironment(null, _variable).Connect();
            await JobEnd.EndAsync(slurm, job, exitCode: null, new ControllerOutage(s_cancelPersistence));
            return 0;
        }
        catch (Exception e) when (e is SlurmClientException or TimeoutException)
        {
            _stderr.Write($"scrun: error: job {job} could not be cancelled: {e.Message}\n");
            return 1;
        }
    }
}
