using Scrun.Containers.Interop;
using Scrun.Containers.Staging;
using Scrun.Containers.Terminals;
using Scrun.Slurm;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using static Scrun.Containers.Anchor.AnchorEvent;

namespace Scrun.Containers.Anchor;

/// <summary>Creation: the job, the staging, the pid file, and a failure that leaves nothing behind.</summary>
public sealed partial class ContainerAnchor
{
    /// <summary>How long a job that could not be cancelled after a failed creation is retried.</summary>
    private static readonly TimeSpan s_cancelPersistence = TimeSpan.FromHours(24);

    private JobSession? _job;
    private IStaging? _staging;
    private StagedBundle? _staged;
    private StagingContext? _stagingContext;
    private TerminalRelay? _terminalRelay;
    private Task<NodeControl.JobLease?>? _leasing;
    private readonly TaskCompletionSource _leaseLaunched = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _callbacks = Task.CompletedTask;

    /// <summary>
    /// With <c>process.terminal</c>: a pty whose master goes to the caller at once (runc sends it
    /// during create), relayed by the anchor to the pty the step runs on.
    /// </summary>
    private void OpenTerminal()
    {
        if (!_config.Terminal)
        {
            return;
        }
        _terminalRelay = TerminalRelay.Open(_plan.Launch.ConsoleSocket);
        // create's stdio is not the container's here (the pty is), and containerd waits
        // for it to close before it starts the container.
        LibC.DetachStdio();
    }

    /// <summary>The job, the launcher, the lease, stage-in and the pid file: <see cref="Created"/> or <see cref="CreationFailed"/>.</summary>
    private async Task CreateAsync()
    {
        try
        {
            await AcquireJobAsync(_creation.Token);
            _launcherChoice = _plan.Launcher.Choose(_job!.Controller.Version).EnsureUsableHere();
            _log.Debug("container {Id}: step launcher {Launcher} ({Why})", Id, _launcherChoice.Native ? "native" : "srun", _launcherChoice.Why);
            HoldJob();
            await StageInAsync(_creation.Token);
            WritePidFile();
            await _leaseLaunched.Task; // created means leased: a login node lost from now on leaves no job
            if (_job.Listener is { } listener)
            {
                _callbacks = WatchCallbacksAsync(listener);
            }
            Notify(new Created());
        }
        catch (Exception e) when (IsExpected(e))
        {
            Notify(new CreationFailed(!_creation.IsCancellationRequested ? Describe(e)
                : _interruption is { } reason ? reason
                : _stagingContext is null ? "the container was stopped before its job started"
                : "the container was stopped during stage-in"));
        }
    }

    private async Task AcquireJobAsync(CancellationToken cancellation)
    {
        var options = _plan.Job;
        var settings = _plan.SlurmSettings(_jwt, ProtocolCachePath());
        var slurmConfig = settings.LoadConfig();
        // Before the job exists: a script that does not load must not leave one behind.
        _staging = _plan.StagingScript is { } script
            ? LuaStaging.LoadIfPresent(script, _log, StagingLimits.From(options.Variables), _plan.Oci, processToClean: Environment.ProcessId, message => _stderr.Write($"scrun: {message}\n"))
                ?? throw new ContainerException($"{script} is gone since create found it")
            : new BuiltInStaging(_plan.StagingDirectory, _log);
        var quiet = options.Quiet;
        _job = new JobSession(settings.Connect(slurmConfig), line =>
        {
            _log.Debug("container {Id}: {Line}", Id, line);
            if (!quiet)
            {
                _stderr.Write($"scrun: {line}\n");
            }
        }, _log);

        if (options.ExistingJobId is { } existing)
        {
            await _job.JoinAsync(existing, options.Variables, cancellation);
            _state.Update(s => s with { JobId = existing, ExistingAllocation = true, SlurmProtocol = _job.Controller.Version?.Release });
            return;
        }
        var descriptor = options.ToJobDescriptor(_paths.Id, _staging.PlannedBundle(_paths, _config));
        // The job id is on disk before anything else happens: whoever finds the anchor gone can end the job.
        await _job.AllocateAsync(descriptor, job => _state.Update(s => s with { JobId = job, JobReleased = false, SlurmProtocol = _job.Controller.Version?.Release }), cancellation);
    }

    /// <summary>
    /// A job of scrun's own, on a cluster whose nodes run scrun and take native steps, is held
    /// from now to its end by a lease on its first node (<see cref="NodeControl.JobLease"/>): a
    /// login node lost with its anchor and guard leaves no job behind. The lease is launched
    /// beside stage-in, and creation ends once slurmd has taken its launch (its task then runs,
    /// and ends the job if it finds no anchor); its hello, a few tens of milliseconds later, is not waited for.
    /// </summary>
    private void HoldJob()
    {
        var slurm = _job!.Controller;
        if (_job is not { JobId: { } job, ExistingAllocation: false, Placement: { } owner }
            || _plan.Oci.NodeScrun is not { } nodeScrun
            || _launcherChoice is not { Native: true })
        {
            _leaseLaunched.TrySetResult();
            return;
        }
        _leasing = Task.Run(async () =>
        {
            try
            {
                // Not cancellable: a lease launched is released, never left without its anchor while the anchor lives.
                return await NodeControl.JobLease.HoldAsync(slurm, job, owner.UserId, owner.GroupId, owner.Allocation, nodeScrun, _log, CancellationToken.None, () => _leaseLaunched.TrySetResult());
            }
            catch (Exception e) when (IsExpected(e))
            {
                _log.Warning("job {Job} of container {Id} has no lease on its node ({Reason}): if this login node is lost, nothing ends the job", job, Id, e.Message);
                return null;
            }
            finally
            {
                _leaseLaunched.TrySetResult();
            }
        });
    }

    /// <summary>
    /// The anchor is about to end the job itself: its lease ends first, quietly (a step the job's
    /// end would kill makes slurmd log its cancellation). An anchor that dies never gets here,
    /// and its lease ends the job.
    /// </summary>
    private async Task ReleaseLeaseAsync()
    {
        if (Interlocked.Exchange(ref _leasing, null) is { } leasing && await leasing is { } lease)
        {
            await lease.ReleaseAsync();
            await lease.DisposeAsync();
        }
    }

    /// <summary>Where the wire format each controller spoke is remembered: beside the containers, under a name no id can have.</summary>
    private string ProtocolCachePath() => Path.Combine(_paths.Root, "slurm-protocols@cache.json");

    private async Task StageInAsync(CancellationToken cancellation)
    {
        var hookEnvironment = _environment.ForHooks(_job!.Variables, _job.Controller.Config.Path);
        // The hooks get the job's owner, as Slurm's scrun passes them: in a rootless engine's
        // namespace this process is uid 0, and a hook would stage for root.
        var (userId, groupId) = _job.Placement is { } owner ? (owner.UserId, owner.GroupId) : (ProcessIdentity.Current.Uid, ProcessIdentity.Current.Gid);
        _stagingContext = new StagingContext(_paths.Id, _config, _paths, _state.Current.JobId ?? 0, userId, groupId, hookEnvironment);
        _staged = await _staging!.StageInAsync(_stagingContext, cancellation);
        _state.Update(s => s with { StagedBundle = _staged.Bundle, StagedBundleOwned = _staged.Owned });
    }

    /// <summary>The pid file (written by the anchor, as Slurm's does): before create returns, so a failure still releases the job.</summary>
    private void WritePidFile()
    {
        if (_plan.Launch.PidFile is { } pidFile)
        {
            StateStore.WriteAtomically(pidFile, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// Creation failed: the job is cancelled and the staging undone; a job that cannot be
    /// cancelled now (slurmctld or munged gone) is recorded and cancelled as soon as the
    /// controller answers again (<see cref="Finish"/>).
    /// </summary>
    private async Task UndoCreationAsync()
    {
        // create says it, as the one error line of the caller's log: Podman reads that file as one JSON object.
        _log.Debug("container {Id} could not be created: {Reason}", Id, _failure);
        await ReleaseLeaseAsync();
        var cancelFailure = await EndJobAsync(null);
        await StageOutAsync();
        if (_job is not null)
        {
            await _job.DisposeAsync();
        }
        Notify(new Released(null, cancelFailure));
    }

    /// <summary>Stopped: create hears how creation ended, and nothing is left behind but a job still to cancel.</summary>
    private void Finish(Released released)
    {
        if (_failure is null)
        {
            Notify(new Ended());
            return;
        }
        var reason = _failure;
        if (released.JobEndFailure is { } cancelFailure)
        {
            _failure = $"{reason}; its job {_job!.JobId} could not be cancelled ({cancelFailure}): scrun cancels it once slurmctld answers, or 'scrun delete --force {Id}' does";
        }
        _state.Record(s => s with { StopReason = _failure, JobId = _job?.JobId ?? s.JobId });
        var answer = Reply();
        Spawn(async () =>
        {
            if (released.JobEndFailure is null)
            {
                RemoveDirectory(); // before the report: when create returns, nothing is left
                _report.Send(answer);
            }
            else
            {
                _report.Send(answer); // the state stays, with the job id, until the job is cancelled
                await CancelPersistentlyAsync();
                if (_state.Current.JobReleased)
                {
                    RemoveDirectory();
                }
            }
            Notify(new Ended());
        });
    }

    /// <summary>Keeps trying to cancel the job of a failed creation, until a delete --force does it first.</summary>
    private async Task CancelPersistentlyAsync()
    {
        try
        {
            await _job!.EndAsync(null, new ControllerOutage(s_cancelPersistence), _cancelledByDelete.Token);
            _state.Record(s => s with { JobReleased = true });
            _log.Information("job {Job} of container {Id} is cancelled", _job.JobId, Id);
        }
        catch (OperationCanceledException) when (_job!.Ended)
        {
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Error("job {Job} of container {Id} could not be cancelled: {Reason}", _job!.JobId, Id, Describe(e));
        }
    }

    private void RemoveDirectory()
    {
        try
        {
            FileTree.Remove(_paths.Directory);
        }
        catch (IOException e)
        {
            _log.Warning("could not remove {Directory}: {Reason}", _paths.Directory, e.Message);
        }
    }

    private async Task StageOutAsync()
    {
        var staging = Interlocked.Exchange(ref _staging, null);
        if (staging is null || _stagingContext is null)
        {
            return; // stage-in never began, or stage-out has run
        }
        await staging.StageOutAsync(_stagingContext, CancellationToken.None);
        (staging as IDisposable)?.Dispose();
    }

    /// <summary>
    /// Ends the job (completed with <paramref name="exitCode"/>, or cancelled when null) and
    /// records it; returns why it could not be, or null.
    /// </summary>
    private async Task<string?> EndJobAsync(int? exitCode)
    {
        if (_job is not { JobId: not null, ExistingAllocation: false, Ended: false })
        {
            return null;
        }
        try
        {
            await _job.EndAsync(exitCode);
            _state.Record(s => s with { JobId = _job.JobId, JobReleased = true });
            return null;
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Warning("could not end job {Job}: {Reason}", _job.JobId, Describe(e));
            return e.Message;
        }
    }

    /// <summary>Slurm's callbacks on the job's port, as events (and the user's messages, as scrun's lines).</summary>
    private async Task WatchCallbacksAsync(CallbackListener listener)
    {
        try
        {
            await foreach (var callback in listener.Callbacks.ReadAllAsync())
            {
                switch (callback)
                {
                    case SrunTimeout:
                        Notify(new TimeLimitReached());
                        break;
                    case SrunNodeFail fail:
                        Notify(new NodesFailed(fail.Nodes ?? ""));
                        break;
                    case SrunUserMessage message:
                        _stderr.Write($"scrun: {message.Message}\n");
                        break;
                    case SrunJobComplete:
                        Notify(new JobEnded("its job ended"));
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
