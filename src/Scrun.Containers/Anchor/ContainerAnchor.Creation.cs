using Scrun.Containers.Interop;
using Scrun.Containers.Staging;
using Scrun.Containers.Terminals;
using Scrun.Slurm;
using Scrun.Slurm.Interop;

namespace Scrun.Containers.Anchor;

/// <summary>Creation: the job, the staging, the pid file, and a failure that leaves nothing behind.</summary>
public sealed partial class ContainerAnchor
{
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
        _terminalRelay = TerminalRelay.Open(_launch.ConsoleSocket);
        // create's stdio is not the container's here (the pty is), and containerd waits
        // for it to close before it starts the container.
        LibC.DetachStdio();
    }

    /// <summary>
    /// Creation failed: the job is cancelled and the staging undone, create hears why, and
    /// nothing is left behind. A job that cannot be cancelled now (slurmctld or munged gone) is
    /// recorded and cancelled as soon as the controller answers again.
    /// </summary>
    private async Task<int> FailCreationAsync(string reason)
    {
        _failure = reason;
        // create says it, as the one error line of the caller's log: Podman reads that file as one JSON object.
        _log.Debug("container {Id} could not be created: {Reason}", _launch.Id, reason);
        await ReleaseLeaseAsync();
        var cancelFailure = await EndJobAsync(null);
        await StageOutAsync();
        if (_job is not null)
        {
            await _job.DisposeAsync();
        }
        _running.TrySetException(new ContainerException(reason));
        if (cancelFailure is not null)
        {
            _failure = $"{reason}; its job {_job!.JobId} could not be cancelled ({cancelFailure}): scrun cancels it once slurmctld answers, or 'scrun delete --force {_launch.Id}' does";
        }
        _state.Record(s => s with { Status = ContainerStatus.Stopped, StopReason = _failure, JobId = _job?.JobId ?? s.JobId });
        if (cancelFailure is null)
        {
            RemoveDirectory(); // before the report: when create returns, nothing is left
            _report.Send(Reply());
        }
        else
        {
            _report.Send(Reply()); // the state stays, with the job id, until the job is cancelled
            await CancelPersistentlyAsync();
            if (_state.Current.JobReleased)
            {
                RemoveDirectory();
            }
        }
        _stopped.TrySetResult();
        return 1;
    }

    /// <summary>Keeps trying to cancel the job of a failed creation, until a delete --force does it first.</summary>
    private async Task CancelPersistentlyAsync()
    {
        try
        {
            await _job!.EndAsync(null, new ControllerOutage(s_cancelPersistence), _cancelledByDelete.Token);
            _state.Record(s => s with { JobReleased = true });
            _log.Information("job {Job} of container {Id} is cancelled", _job.JobId, _launch.Id);
        }
        catch (OperationCanceledException) when (_job!.Ended)
        {
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Error("job {Job} of container {Id} could not be cancelled: {Reason}", _job!.JobId, _launch.Id, Describe(e));
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

    /// <summary>The pid file (written by the anchor, as Slurm's does): before create returns, so a failure still releases the job.</summary>
    private void WritePidFile()
    {
        if (_launch.PidFile is { } pidFile)
        {
            StateStore.WriteAtomically(pidFile, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private async Task AcquireJobAsync()
    {
        var options = JobOptions.From(_variables, _config.Env);
        var settings = SlurmClientSettings.FromEnvironment(_launch.SlurmConf, _variables.GetValueOrDefault) with { ProtocolCache = ProtocolCachePath() };
        var slurmConfig = settings.LoadConfig();
        // Before the job exists: a script that does not load must not leave one behind.
        _staging = IStaging.Choose(slurmConfig, options, _variables.GetValueOrDefault(BuiltInStaging.Variable), _log, message => _stderr.Write($"scrun: {message}\n"));
        var quiet = options.Quiet;
        if (options.StepLauncher == "srun")
        {
            RefuseSrunInUserNamespace($"{JobOptions.StepLauncherVariable}=srun"); // a misspelt launcher fails create, not start
        }
        _job = new JobSession(settings.Connect(slurmConfig), line =>
        {
            _log.Debug("container {Id}: {Line}", _launch.Id, line);
            if (!quiet)
            {
                _stderr.Write($"scrun: {line}\n");
            }
        }, _log);
        _state.Update(s => s with { SlurmConf = slurmConfig.Path });

        if (options.ExistingJobId is { } existing)
        {
            await _job.JoinAsync(existing, options.Variables, _abort.Token);
            _state.Update(s => s with { JobId = existing, ExistingAllocation = true, SlurmProtocol = _job.Controller.Version?.Release });
            return;
        }
        var descriptor = options.ToJobDescriptor(_paths.Id, _staging.PlannedBundle(_paths, _config));
        // The job id is on disk before anything else happens: whoever finds the anchor gone can end the job.
        await _job.AllocateAsync(descriptor, job => _state.Update(s => s with { JobId = job, JobReleased = false, SlurmProtocol = _job.Controller.Version?.Release }), _abort.Token);
    }

    /// <summary>
    /// srun puts the uid it runs as in its requests; in a rootless engine's namespace that is 0,
    /// which slurmctld refuses (22.05) or takes for root's job. Said at create, not at start.
    /// </summary>
    private static void RefuseSrunInUserNamespace(string why)
    {
        if (UserNamespace.UidDiffersOutside())
        {
            throw new ContainerException($"the step would be launched by srun ({why}), which cannot work inside a rootless engine's user namespace (it would ask for uid 0): use the native launcher ({JobOptions.StepLauncherVariable}=native)");
        }
    }

    /// <summary>The automatic launcher choice, once the controller's release is known: see <see cref="RefuseSrunInUserNamespace"/>.</summary>
    private void RefuseAutomaticSrunInUserNamespace()
    {
        if (!LauncherChoice.Native)
        {
            RefuseSrunInUserNamespace(LauncherChoice.Why);
        }
    }

    /// <summary>The step launcher for the job's cluster (<see cref="StepLauncherChoice"/>), chosen once the controller's release is known.</summary>
    private StepLauncherChoice LauncherChoice => _launcherChoice ??= StepLauncherChoice.For(
        JobOptions.From(_variables, _config.Env).StepLauncher, _job!.Controller.Config, OciConfigOf(_job.Controller), _job.Controller.Version);

    /// <summary>
    /// A job of scrun's own, on a cluster whose nodes run scrun and take native steps, is held
    /// from now to its end by a lease on its first node (<see cref="NodeControl.JobLease"/>): a
    /// login node lost with its anchor and guard leaves no job behind. The lease is launched
    /// beside the rest of creation (the step takes a few tens of milliseconds to say hello).
    /// </summary>
    private void HoldJob()
    {
        var slurm = _job!.Controller;
        if (_job is not { JobId: { } job, ExistingAllocation: false, Placement: { } owner }
            || OciConfigOf(slurm).NodeScrun is not { } nodeScrun
            || !LauncherChoice.Native)
        {
            return;
        }
        _leasing = Task.Run(async () =>
        {
            try
            {
                // Not cancellable: a lease launched is released, never left without its anchor while the anchor lives.
                return await NodeControl.JobLease.HoldAsync(slurm, job, owner.UserId, owner.GroupId, owner.Allocation, nodeScrun, _log, CancellationToken.None);
            }
            catch (Exception e) when (IsExpected(e))
            {
                _log.Warning("job {Job} of container {Id} has no lease on its node ({Reason}): if this login node is lost, nothing ends the job", job, _launch.Id, e.Message);
                return null;
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

    private async Task StageInAsync()
    {
        var hookEnvironment = _containerEnvironment.ForHooks(_job!.Variables, _job.Controller.Config.Path);
        // The hooks get the job's owner, as Slurm's scrun passes them: in a rootless engine's
        // namespace this process is uid 0, and a hook would stage for root.
        var (userId, groupId) = _job.Placement is { } owner ? (owner.UserId, owner.GroupId) : (ProcessIdentity.Current.Uid, ProcessIdentity.Current.Gid);
        _stagingContext = new StagingContext(_paths.Id, _config, _paths, _state.Current.JobId ?? 0, userId, groupId, hookEnvironment);
        _staged = await _staging!.StageInAsync(_stagingContext, _abort.Token);
        _state.Update(s => s with { StagedBundle = _staged.Bundle, StagedBundleOwned = _staged.Owned });
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
}
