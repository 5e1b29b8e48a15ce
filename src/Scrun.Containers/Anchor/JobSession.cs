using System.Globalization;
using Scrun.Slurm;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Steps;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The container's Slurm job, from the request to its end: allocation (riding out controller
/// outages while it waits), readiness, the callbacks, the step's signals, and the end (completed
/// with the container's status, or cancelled). It owns the controller client and the callback
/// listener.
/// </summary>
internal sealed class JobSession(SlurmController slurm, Action<string> tellUser, Serilog.ILogger log) : IAsyncDisposable
{
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromSeconds(5);

    /// <summary>How long the end of a job (completion, cancellation) is retried before it is left to a later verb.</summary>
    private static readonly TimeSpan s_endPatience = TimeSpan.FromSeconds(10);

    /// <summary>How long slurmctld's word of the job's end is waited for before the listener closes.</summary>
    private static readonly TimeSpan s_completionNotice = TimeSpan.FromSeconds(3);

    private readonly Dictionary<string, string> _variables = new(StringComparer.Ordinal);

    public SlurmController Controller { get; } = slurm;

    public uint? JobId { get; private set; }

    /// <summary>The job was allocated by someone else (SLURM_JOB_ID): never ended by scrun.</summary>
    public bool ExistingAllocation { get; private set; }

    public CallbackListener? Listener { get; private set; }

    /// <summary>scrun has completed or cancelled the job (or found it gone).</summary>
    public bool Ended { get; private set; }

    /// <summary>The job's nodes and owner, once it runs: what a step launched without srun needs.</summary>
    public JobPlacement? Placement { get; private set; }

    /// <summary>What salloc would export for the job (or the caller's SLURM* variables when joining one).</summary>
    public IReadOnlyDictionary<string, string> Variables => _variables;

    /// <summary>Joins a running allocation named by SLURM_JOB_ID; the caller's SLURM* variables describe it.</summary>
    public async Task JoinAsync(uint jobId, IReadOnlyDictionary<string, string> callerVariables, CancellationToken cancellation)
    {
        var job = await Controller.GetJobAsync(jobId, cancellation)
            ?? throw new ContainerException($"SLURM_JOB_ID={jobId} names no job slurmctld knows");
        if (job.State != JobState.Running)
        {
            throw new ContainerException($"SLURM_JOB_ID={jobId} is not running (it is {job.State})");
        }
        // srun asks for the allocation itself too: its lookup holds what the step's environment needs.
        var allocation = await Controller.GetAllocationAsync(jobId, cancellation)
            ?? throw new ContainerException($"SLURM_JOB_ID={jobId} has no allocation yet (it is pending)");
        JobId = jobId;
        ExistingAllocation = true;
        Placement = new JobPlacement(allocation.NodeCount, job.UserId, job.GroupId, JobAllocation.From(allocation));
        foreach (var (name, value) in callerVariables.Where(v => v.Key.StartsWith("SLURM", StringComparison.Ordinal)))
        {
            _variables[name] = value;
        }
    }

    /// <summary>
    /// Asks for the job and waits until its nodes are ready. <paramref name="recordJob"/> hears the
    /// job id as soon as slurmctld gives it (a failure there cancels the job); a controller or
    /// munged that goes away while the job pends is waited for, up to SlurmctldTimeout (at least
    /// two minutes).
    /// </summary>
    public async Task AllocateAsync(JobDescriptor descriptor, Action<uint> recordJob, CancellationToken cancellation)
    {
        var config = Controller.Config;
        var munge = Controller.UsesMunge ? new MungeClient(config.MungeSocket) : null;
        Listener = CallbackListener.Start(config, munge, munge is null ? null : new MungeAuthenticator(munge, config.MungeTimeToLive));
        descriptor.AllocResponsePort = (ushort)Listener.AllocationPort;
        descriptor.OtherPort = (ushort)Listener.MessagePort;

        // Not cancellable once sent: slurmctld may create the job, and only its reply names it.
        var allocation = await Controller.AllocateAsync(descriptor, CancellationToken.None);
        JobId = allocation.JobId;
        recordJob(allocation.JobId);
        cancellation.ThrowIfCancellationRequested();
        var outage = ControllerOutage.For(config.SlurmctldTimeout, e =>
            log.Warning("job {Job}: slurmctld or munged did not answer ({Reason}); asking again", JobId, e.Message));
        if (!allocation.IsGranted)
        {
            // Said at once, from the reply itself: whatever happens next, the user heard that the job waits.
            tellUser($"waiting for job {allocation.JobId} ({(allocation.ErrorCode != 0 ? SlurmErrors.Message(allocation.ErrorCode) : "queued")})");
            string? lastReason = null;
            allocation = await Controller.WaitForAllocationAsync(allocation.JobId, Listener, s_pollInterval, job =>
            {
                var reason = JobReasons.Describe(job.StateReason);
                if (reason != lastReason)
                {
                    tellUser($"waiting for job {job.JobId} ({reason})");
                    lastReason = reason;
                }
            }, cancellation, outage);
        }
        RecordVariables(allocation);
        var (userId, groupId) = (allocation.UserId, allocation.GroupId);
        if (Controller.Version is { } version && !ResourceAllocationResponse.NamesOwner(version))
        {
            // 22.05 does not say, and this process's ids may be a user namespace's (rootless engines): ask.
            var job = await outage.RunAsync(token => Controller.GetJobAsync(allocation.JobId, token), cancellation: cancellation)
                ?? throw new ContainerException($"job {allocation.JobId} vanished right after its allocation");
            (userId, groupId) = (job.UserId, job.GroupId);
        }
        Placement = new JobPlacement(allocation.NodeCount, userId, groupId, JobAllocation.From(allocation));
        while (!(await outage.RunAsync(token => Controller.GetJobReadyAsync(allocation.JobId, token), cancellation: cancellation)).IsReady)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellation); // nodes still booting
        }
    }

    /// <summary>Signals the container's processes on the node (srun would cancel the step on SIGTERM).</summary>
    public async Task SignalStepAsync(Signal signal, uint step)
    {
        var job = JobId ?? throw new ContainerException("the container has no job");
        try
        {
            await Controller.SignalStepAsync(job, step, signal);
        }
        catch (SlurmException e) when (e.ErrorNumber is SlurmErrors.InvalidJobId or SlurmErrors.AlreadyDone or SlurmErrors.JobPending)
        {
            // the step is not registered yet, or already gone: signal what the job runs
            await Controller.SignalJobAsync(job, signal);
        }
    }

    /// <summary>
    /// Ends the job: completed with the container's exit code, or cancelled (as scancel) when
    /// the container never ran. A job that is gone already counts as ended; an outage is ridden
    /// out for a few seconds, then the failure is the caller's to keep (state) and report.
    /// </summary>
    public Task EndAsync(int? exitCode, CancellationToken cancellation = default) =>
        EndAsync(exitCode, new ControllerOutage(s_endPatience), cancellation);

    /// <summary><see cref="EndAsync(int?, CancellationToken)"/> riding out an outage as long as <paramref name="outage"/> allows.</summary>
    public async Task EndAsync(int? exitCode, ControllerOutage outage, CancellationToken cancellation = default)
    {
        if (JobId is not { } job || ExistingAllocation || Ended)
        {
            return;
        }
        await JobEnd.EndAsync(Controller, job, exitCode, outage, cancellation);
        Ended = true;
    }

    /// <summary>
    /// Closes the callback listener; after the job's end, once slurmctld has said so (it logs an
    /// error for every SRUN_JOB_COMPLETE it cannot deliver), or a few seconds have passed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Listener is { } listener)
        {
            Listener = null;
            if (Ended)
            {
                try
                {
                    await listener.JobCompleted.WaitAsync(s_completionNotice);
                }
                catch (TimeoutException)
                {
                }
            }
            await listener.DisposeAsync();
        }
    }

    private void RecordVariables(ResourceAllocationResponse allocation)
    {
        foreach (var entry in allocation.Environment ?? [])
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                _variables[entry[..eq]] = entry[(eq + 1)..];
            }
        }
        var id = allocation.JobId.ToString(CultureInfo.InvariantCulture);
        var nodes = allocation.NodeCount.ToString(CultureInfo.InvariantCulture);
        _variables["SLURM_JOB_ID"] = id;
        _variables["SLURM_JOBID"] = id;
        _variables["SLURM_JOB_NUM_NODES"] = nodes;
        _variables["SLURM_NNODES"] = nodes;
        if (allocation.NodeList is { } nodeList)
        {
            _variables["SLURM_JOB_NODELIST"] = nodeList;
            _variables["SLURM_NODELIST"] = nodeList;
        }
        if (allocation.Partition is { } partition)
        {
            _variables["SLURM_JOB_PARTITION"] = partition;
        }
        if (allocation.Qos is { } qos)
        {
            _variables["SLURM_JOB_QOS"] = qos;
        }
        if (allocation.ReservationName is { } reservation)
        {
            _variables["SLURM_JOB_RESERVATION"] = reservation;
        }
        if (Controller.Config.ClusterName is { } cluster)
        {
            _variables["SLURM_CLUSTER_NAME"] = cluster;
        }
    }
}

/// <summary>How many nodes a job has, whose it is, and what srun would learn of its allocation.</summary>
internal sealed record JobPlacement(uint NodeCount, uint UserId, uint GroupId, JobAllocation Allocation);
