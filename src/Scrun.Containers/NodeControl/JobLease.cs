using System.Net.Sockets;
using Scrun.Slurm;
using Scrun.Slurm.Steps;
using Serilog;

namespace Scrun.Containers.NodeControl;

/// <summary>
/// The anchor's side of <see cref="JobLeaseProtocol"/>: launches the lease step on the job's
/// first node (an overlapping step, which takes none of the job's resources), and keeps it fed
/// with pings for as long as the anchor lives. <see cref="ReleaseAsync"/> once the job's end is
/// Slurm's: the lease then ends quietly.
/// </summary>
internal sealed class JobLease : IAsyncDisposable
{
    private static readonly TimeSpan s_helloPatience = TimeSpan.FromSeconds(30);

    /// <summary>How long the lease step is given to end once released (its task exit must find the step's port open).</summary>
    private static readonly TimeSpan s_endPatience = TimeSpan.FromSeconds(5);

    private readonly Socket _listener;
    private readonly string _token = Interop.KernelRandom.Hex(16);
    private readonly ILogger _log;
    private readonly List<LineChannel> _holders = [];
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private readonly Task _pinging;
    private StepSession? _step;
    private volatile bool _released;

    private JobLease(Socket listener, ILogger log)
    {
        _listener = listener;
        _log = log;
        _accepting = ClientPorts.AcceptEachAsync(listener, ServeAsync, _stopping.Token);
        _pinging = PingAsync();
    }

    /// <summary>The lease step's number in its job.</summary>
    public uint? StepNumber => _step?.Step.StepNumber;

    /// <summary>
    /// Launches the lease step of <paramref name="job"/> (owned by <paramref name="userId"/>, which
    /// 22.05 checks) running <paramref name="nodeScrun"/> on its first node, and returns once it holds the job.
    /// <paramref name="launched"/> is called as soon as slurmd has taken the launch: from then on the
    /// lease's task runs whatever becomes of this process.
    /// </summary>
    /// <exception cref="ContainerException">The step could not be launched, or its scrun never said hello.</exception>
    public static async Task<JobLease> HoldAsync(SlurmController slurm, uint job, uint userId, uint groupId, JobAllocation allocation, string nodeScrun, ILogger log, CancellationToken cancellation, Action? launched = null)
    {
        var lease = new JobLease(ClientPorts.Listen(slurm.Config), log);
        try
        {
            var request = new StepRequest
            {
                JobId = job,
                NodeCount = 1,
                UserId = userId,
                GroupId = groupId,
                Name = JobLeaseProtocol.StepName,
                Arguments = [nodeScrun, JobLeaseProtocol.Verb],
                Allocation = allocation,
                Environment = [$"{JobLeaseProtocol.EnvironmentVariable}={JobLeaseProtocol.EnvironmentValue(ClientPorts.PortOf(lease._listener), lease._token, job)}"],
                WorkingDirectory = "/",
                Overlapping = true,
            };
            lease._step = await StepSession.LaunchAsync(slurm, request, new StepStreams(null, Stream.Null, Stream.Null), line => log.Debug("lease of job {Job}: {Line}", job, line), cancellation);
            launched?.Invoke();
            var held = await Task.WhenAny(lease._held.Task, lease._step.Completion, Task.Delay(s_helloPatience, cancellation));
            if (held != lease._held.Task)
            {
                await held; // cancellation
                throw new ContainerException(held == lease._step.Completion
                    ? $"its step {lease._step.Step} ended (exit code {lease._step.Completion.Result}) without a word: is {nodeScrun} on the nodes?"
                    : $"no word from {nodeScrun} {JobLeaseProtocol.Verb} on the job's node in {s_helloPatience.TotalSeconds} s");
            }
            log.Debug("job {Job} is held by its lease (step {Step})", job, lease._step.Step);
            return lease;
        }
        catch (Exception e) when (e is SlurmClientException or SocketException or IOException)
        {
            await lease.DisposeAsync();
            throw new ContainerException(e.Message);
        }
        catch
        {
            await lease.DisposeAsync();
            throw;
        }
    }

    /// <summary>The job's end is Slurm's now (completed or cancelled): the lease ends without acting, and its step with it.</summary>
    public async Task ReleaseAsync()
    {
        _released = true;
        await SendAsync(JobLeaseProtocol.Release);
        if (_step is { } step)
        {
            await Task.WhenAny(step.Completion, Task.Delay(s_endPatience));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        LineChannel[] holders;
        lock (_holders)
        {
            holders = [.. _holders];
        }
        foreach (var holder in holders)
        {
            await holder.DisposeAsync();
        }
        await _accepting;
        await _pinging;
        if (_step is { } step)
        {
            await step.DisposeAsync();
        }
        _stopping.Dispose();
    }

    private async Task PingAsync()
    {
        try
        {
            while (!_released)
            {
                await Task.Delay(JobLeaseProtocol.PingInterval, _stopping.Token);
                await SendAsync(JobLeaseProtocol.Ping);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SendAsync(string line)
    {
        LineChannel[] holders;
        lock (_holders)
        {
            holders = [.. _holders];
        }
        foreach (var holder in holders)
        {
            try
            {
                await holder.WriteAsync(line, _stopping.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                _log.Debug("lease: {Line} not sent: {Reason}", line.Trim(), e.Message);
            }
        }
    }

    /// <summary>A lease's connection (its first, or one it made again after a silence): it holds the job once it knows the secret.</summary>
    private async Task ServeAsync(Socket connection)
    {
        await using var holder = new LineChannel(new NetworkStream(connection, ownsSocket: true));
        try
        {
            if (!await holder.IsGreetedWithAsync(_token, s_helloPatience, _stopping.Token))
            {
                _log.Warning("lease: a connection without the lease's secret was closed");
                return;
            }
            lock (_holders)
            {
                _holders.Add(holder);
            }
            if (_released)
            {
                await holder.WriteAsync(JobLeaseProtocol.Release, _stopping.Token);
            }
            _held.TrySetResult();
            // The lease says nothing more: this read ends when it goes (or the anchor does).
            while (await holder.ReadLineAsync(_stopping.Token) is not null)
            {
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            _log.Debug("lease: {Reason}", e.Message);
        }
        finally
        {
            lock (_holders)
            {
                _holders.Remove(holder);
            }
        }
    }
}
