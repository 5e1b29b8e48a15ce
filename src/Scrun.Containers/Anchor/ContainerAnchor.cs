using System.Diagnostics;
using System.Runtime.InteropServices;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Scrun.Containers.Staging;
using Scrun.Slurm;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Config;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Wire;
using Serilog;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The process that is the container for Docker and Podman: one per container, started by
/// <c>create</c>. It owns the container's directory (its claim), the Slurm job, the staged
/// bundle and srun; it answers the CLI on its socket; it records every transition in
/// state.json; its exit status is the container's. It runs in a session of its own, and a
/// TERM, INT or HUP sent to it is the container's signal, as for runc's container process.
/// </summary>
public sealed class ContainerAnchor
{
    /// <summary>How long a job that could not be cancelled after a failed creation is retried.</summary>
    private static readonly TimeSpan s_cancelPersistence = TimeSpan.FromHours(24);

    private readonly AnchorLaunch _launch;
    private readonly CreationReport _report;
    private bool _stoppedBeforeStart;
    private readonly ILogger _log;
    private readonly TextWriter _stderr;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly ContainerPaths _paths;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _startRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _running = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _abort = new();
    private readonly CancellationTokenSource _cancelledByDelete = new();
    private readonly List<PosixSignalRegistration> _signals = [];
    private ContainerState _state;
    private BundleConfig _config = null!;
    private JobSession? _job;
    private IStaging? _staging;
    private StagedBundle? _staged;
    private StagingContext? _stagingContext;
    private int? _abortExitCode;
    private string? _abortFailure;
    private volatile bool _sigkilled;
    private string? _terminal;
    private TerminalRelay? _terminalRelay;
    private string? _failure;

    public ContainerAnchor(AnchorLaunch launch, IReadOnlyDictionary<string, string> environment, ILogger log, TextWriter stderr)
    {
        _launch = launch;
        if (launch.ClaimDescriptor >= 0)
        {
            LibC.SetCloseOnExec(launch.ClaimDescriptor, true); // held until this process ends, by it alone
        }
        _report = new CreationReport(launch.ReportDescriptor, () => Abort(128 + 9, "create went away", "create was interrupted before the container was created"));
        _environment = environment;
        _log = log;
        _stderr = stderr;
        _paths = new ContainerPaths(launch.Root, ContainerId.Parse(launch.Id));
        var identity = ProcessIdentity.Current;
        _state = new ContainerState
        {
            Id = launch.Id,
            Status = ContainerStatus.Creating,
            Bundle = launch.Bundle,
            AnchorPid = Environment.ProcessId,
            PidFile = launch.PidFile,
            Created = DateTimeOffset.UtcNow,
            OwnerUid = identity.Uid,
            Owner = UserName(identity.Uid),
            JobReleased = true,
        };
    }

    /// <summary>Runs the container to its end and returns its exit code (the anchor's exit status).</summary>
    public async Task<int> RunAsync()
    {
        // A daemon: the caller's process group and terminal are not ours (a Ctrl-C or a timeout
        // meant for create must not kill the container's keeper).
        LibC.setsid();
        await using var server = new AnchorServer(_paths, _state.OwnerUid, HandleAsync, _log);
        try
        {
            _config = BundleConfig.Load(_launch.Bundle);
            Update(s => s with { OciVersion = _config.OciVersion, RootPath = _config.RootPath, Annotations = _config.Annotations });
            server.Start();
            OpenTerminal();
            FollowSignals();
        }
        catch (Exception e) when (IsExpected(e))
        {
            return await FailCreationAsync(e is System.Net.Sockets.SocketException && _launch.ConsoleSocket is { } console
                ? $"cannot reach the console socket {console}: {e.Message}"
                : Describe(e));
        }

        var exitCode = await LiveAsync();
        if (_failure is not null)
        {
            return exitCode;
        }
        Record(s => s with { Status = ContainerStatus.Stopped, ExitCode = exitCode });
        _stopped.TrySetResult();
        _log.Debug("container {Id} stopped with exit code {ExitCode}", _launch.Id, exitCode);
        return exitCode;
    }

    /// <summary>
    /// With <c>process.terminal</c>: a pty whose master goes to the caller at once (runc sends it
    /// during create), relayed by the anchor to the pty srun runs on (srun --pty).
    /// </summary>
    private void OpenTerminal()
    {
        if (!_config.Terminal)
        {
            return;
        }
        _terminalRelay = TerminalRelay.Open(_launch.ConsoleSocket);
        _terminal = _terminalRelay.StepTerminal;
        // create's stdio is not the container's here (the pty is), and containerd waits
        // for it to close before it starts the container.
        LibC.DetachStdio();
    }

    /// <summary>
    /// TERM, INT and HUP sent to the anchor (the process in --pid-file) go to the container, as
    /// kill would send them: a container not started yet ends and its job is cancelled. With a
    /// terminal, HUP is the caller closing its side, which the container outlives.
    /// </summary>
    private void FollowSignals()
    {
        foreach (var (signal, number) in new[] { (PosixSignal.SIGTERM, 15), (PosixSignal.SIGINT, 2), (PosixSignal.SIGHUP, 1) })
        {
            if (signal == PosixSignal.SIGHUP && _terminalRelay is not null)
            {
                continue;
            }
            _signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                _ = Task.Run(() => OnSignalAsync(number));
            }));
        }
    }

    private async Task OnSignalAsync(int signal)
    {
        try
        {
            await KillAsync(signal);
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Warning("signal {Signal} to container {Id}: {Reason}", signal, _launch.Id, Describe(e));
        }
    }

    private async Task<int> LiveAsync()
    {
        try
        {
            await AcquireJobAsync();
            await StageInAsync();
            WritePidFile();
            Update(s => s with { Status = ContainerStatus.Created });
            if (!_report.Send(Reply()))
            {
                throw new ContainerException("create was interrupted before it heard the container was created");
            }
        }
        catch (Exception e) when (IsExpected(e))
        {
            var failure = !_abort.IsCancellationRequested ? Describe(e)
                : _abortFailure is { } reason ? reason
                : _stagingContext is null ? "the container was stopped before its job started"
                : "the container was stopped during stage-in";
            return await FailCreationAsync(failure);
        }

        var listener = _job?.Listener;
        var watcher = listener is null ? Task.CompletedTask : WatchCallbacksAsync(listener);
        var exitCode = await RunStepAsync();
        Record(s => s with { Status = ContainerStatus.Stopping, ExitCode = exitCode });
        await StageOutAsync();
        var ended = await EndJobAsync(_stoppedBeforeStart ? null : exitCode); // killed or deleted while created: cancelled, as scancel would
        if (_job is not null)
        {
            await _job.DisposeAsync();
        }
        await watcher;
        if (_state.StopReason is { } stopReason)
        {
            _stderr.Write($"scrun: error: container {_launch.Id}: {stopReason}\n");
        }
        if (ended is not null)
        {
            _stderr.Write($"scrun: error: container {_launch.Id}: job {_state.JobId} could not be ended ({ended}); 'scrun delete {_launch.Id}' ends it\n");
        }
        return exitCode;
    }

    /// <summary>
    /// Creation failed: the job is cancelled and the staging undone, create hears why, and
    /// nothing is left behind. A job that cannot be cancelled now (slurmctld or munged gone) is
    /// recorded and cancelled as soon as the controller answers again.
    /// </summary>
    private async Task<int> FailCreationAsync(string reason)
    {
        _failure = reason;
        _log.Error("container {Id} could not be created: {Reason}", _launch.Id, reason);
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
        Record(s => s with { Status = ContainerStatus.Stopped, StopReason = _failure, JobId = _job?.JobId ?? s.JobId });
        _report.Send(Reply());
        if (cancelFailure is not null)
        {
            await CancelPersistentlyAsync();
        }
        _stopped.TrySetResult();
        if (_state.JobReleased)
        {
            RemoveDirectory();
        }
        return 1;
    }

    /// <summary>Keeps trying to cancel the job of a failed creation, until a delete --force does it first.</summary>
    private async Task CancelPersistentlyAsync()
    {
        try
        {
            await _job!.EndAsync(null, new ControllerOutage(s_cancelPersistence), _cancelledByDelete.Token);
            Record(s => s with { JobReleased = true });
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

    private static bool IsExpected(Exception e) =>
        e is ContainerException or BundleException or SlurmException or SlurmUnreachableException or SlurmProtocolException or SlurmConfigException
            or MungeException or OperationCanceledException or TimeoutException or IOException or UnauthorizedAccessException
            or System.Net.Sockets.SocketException or System.ComponentModel.Win32Exception;

    private static string Describe(Exception e) => e switch
    {
        SlurmException s => $"Slurm refused the job: {s.Message}",
        _ => e.Message,
    };

    private async Task AcquireJobAsync()
    {
        var options = JobOptions.From(_environment, _config.Env);
        var slurmConfig = SlurmConfig.Load(_launch.SlurmConf, _environment.GetValueOrDefault("SLURM_CONF"));
        // Before the job exists: a script that does not load must not leave one behind.
        _staging = CreateStaging(slurmConfig, options);
        ProtocolVersion? pinned = _environment.GetValueOrDefault("SCRUN_SLURM_PROTOCOL") is { Length: > 0 } release
            && ProtocolVersion.TryParseRelease(release, out var version) ? version : null;
        var quiet = options.Quiet;
        _job = new JobSession(SlurmController.Create(slurmConfig, _environment.GetValueOrDefault("SLURM_JWT"), pinned),
            line =>
            {
                _log.Debug("container {Id}: {Line}", _launch.Id, line);
                if (!quiet)
                {
                    _stderr.Write($"scrun: {line}\n");
                }
            }, _log);
        Update(s => s with { SlurmConf = slurmConfig.Path });

        if (options.ExistingJobId is { } existing)
        {
            await _job.JoinAsync(existing, options.Variables, _abort.Token);
            Update(s => s with { JobId = existing, ExistingAllocation = true });
            return;
        }
        var descriptor = options.ToJobDescriptor(_paths.Id, WorkDirectory());
        // The job id is on disk before anything else happens: whoever finds the anchor gone can end the job.
        await _job.AllocateAsync(descriptor, job => Update(s => s with { JobId = job, JobReleased = false }), _abort.Token);
    }

    /// <summary>The site's scrun.lua beside slurm.conf if there is one, else the built-in staging.</summary>
    private IStaging CreateStaging(SlurmConfig slurmConfig, JobOptions options)
    {
        var limits = StagingLimits.From(options.Variables);
        var script = LuaStaging.LoadBeside(slurmConfig, _log, limits, processToClean: Environment.ProcessId,
            userMessages: message => _stderr.Write($"scrun: {message}\n"));
        if (script is not null)
        {
            _log.Debug("staging container {Id} with {Script}", _launch.Id, script.ScriptPath);
        }
        return (IStaging?)script ?? new BuiltInStaging(_environment.GetValueOrDefault(BuiltInStaging.Variable), _log);
    }

    /// <summary>The job's working directory: where the built-in staging puts the bundle, else the caller's bundle.</summary>
    private string WorkDirectory() => _staging is BuiltInStaging builtIn
        ? builtIn.BundleFor(_paths)
        : _launch.Bundle;

    private async Task StageInAsync()
    {
        var identity = ProcessIdentity.Current;
        var jobEnvironment = new Dictionary<string, string>(_job!.Variables, StringComparer.Ordinal);
        foreach (var (name, value) in OutputVariables())
        {
            jobEnvironment[name] = value;
        }
        jobEnvironment["SLURM_CONF"] = _job.Controller.Config.Path;
        _stagingContext = new StagingContext(_paths.Id, _config, _paths, _state.JobId ?? 0, identity.Uid, identity.Gid, jobEnvironment);
        _staged = await _staging!.StageInAsync(_stagingContext, _abort.Token);
        Update(s => s with { StagedBundle = _staged.Bundle, StagedBundleOwned = _staged.Owned });
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
            Record(s => s with { JobId = _job.JobId, JobReleased = true });
            return null;
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Warning("could not end job {Job}: {Reason}", _state.JobId, Describe(e));
            return e.Message;
        }
    }

    /// <summary>Waits for start (or an early end), runs srun, and returns the container's exit code.</summary>
    private async Task<int> RunStepAsync()
    {
        var first = await Task.WhenAny(_startRequested.Task, Task.Delay(Timeout.Infinite, _abort.Token).ContinueWith(_ => { }, TaskScheduler.Default));
        if (first != _startRequested.Task || _abortExitCode is not null)
        {
            _running.TrySetException(new ContainerException("the container was stopped before it started"));
            _stoppedBeforeStart = true;
            return _abortExitCode ?? 128 + 9;
        }
        Process srun;
        try
        {
            _terminalRelay?.BeforeLaunch();
            srun = SrunLauncher.Start(BuildLaunch());
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or ContainerException or InvalidOperationException)
        {
            _running.TrySetException(new ContainerException($"cannot launch srun: {e.Message}"));
            Record(s => s with { StopReason = $"srun could not be launched: {e.Message}" });
            return 127;
        }
        using (srun)
        using (_terminalRelay)
        {
            _terminalRelay?.Start();
            var errors = srun.StartInfo.RedirectStandardError
                ? Task.Run(() => StepErrorFilter.RelayAsync(srun.StandardError.BaseStream, new DescriptorStream(2)))
                : Task.CompletedTask;
            Record(s => s with { Status = ContainerStatus.Running });
            _running.TrySetResult();
            await srun.WaitForExitAsync();
            _terminalRelay?.Drain(TimeSpan.FromSeconds(5));
            await DrainAsync(errors);
            // SIGKILL cannot be caught: whatever srun makes of the killed step, the container died of it.
            return _sigkilled ? 128 + 9 : srun.ExitCode;
        }
    }

    /// <summary>The step's stderr ends with srun; a process srun left holding it must not keep the container alive.</summary>
    private async Task DrainAsync(Task relay)
    {
        try
        {
            await relay.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is TimeoutException or IOException)
        {
            _log.Warning("the step's stderr did not end with srun: {Reason}", e.Message);
        }
    }

    private SrunLaunch BuildLaunch()
    {
        var slurm = _job?.Controller;
        var oci = slurm is null ? new OciConfig() : OciConfig.LoadBeside(slurm.Config);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in _config.Env)
        {
            var eq = entry.IndexOf('=');
            if (eq > 0)
            {
                environment[entry[..eq]] = entry[(eq + 1)..];
            }
        }
        foreach (var (key, value) in OutputVariables())
        {
            environment[key] = value;
        }
        if (slurm is not null)
        {
            environment["SLURM_CONF"] = slurm.Config.Path;
        }
        var options = JobOptions.From(_environment, _config.Env);
        return new SrunLaunch(
            SrunPath: oci.SrunPath,
            SrunArgs: oci.SrunArgs,
            JobId: _state.JobId ?? throw new ContainerException("no job to run the container in"),
            JobName: options.Variables.GetValueOrDefault("SCRUN_JOB_NAME") ?? "scrun",
            ContainerId: _launch.Id,
            PassContainerId: slurm?.Version is { } v && v >= ProtocolVersion.V23_02,
            Bundle: _staged?.Bundle ?? throw new ContainerException("the bundle was not staged"),
            Terminal: _terminal,
            StepArguments: options.StepArguments(),
            Args: _config.Args,
            Environment: environment,
            WorkingDirectory: _staged.Bundle);
    }

    /// <summary>The variables scrun exports to the step and to staging hooks (Slurm's names).</summary>
    private Dictionary<string, string> OutputVariables()
    {
        var identity = ProcessIdentity.Current;
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["SCRUN_OCI_VERSION"] = _config.OciVersion,
            ["SCRUN_CONTAINER_ID"] = _launch.Id,
            ["SCRUN_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SCRUN_BUNDLE"] = _staged?.Bundle ?? _launch.Bundle,
            ["SCRUN_SUBMISSION_BUNDLE"] = _launch.Bundle,
            ["SCRUN_PID_FILE"] = _launch.PidFile ?? "",
            ["SCRUN_SOCKET"] = _paths.Socket,
            ["SCRUN_SPOOL_DIR"] = _paths.Directory,
            ["SCRUN_SUBMISSION_CONFIG_FILE"] = Path.Combine(_launch.Bundle, "config.json"),
            ["SCRUN_ROOT"] = _paths.Root,
            ["SCRUN_ROOTFS_PATH"] = _staged?.RootPath ?? _config.RootPath,
            ["SCRUN_SUBMISSION_ROOTFS_PATH"] = _config.RootPath,
            ["SCRUN_USER"] = UserName(identity.Uid),
            ["SCRUN_USER_ID"] = identity.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SCRUN_GROUP_ID"] = identity.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (_launch.LogFile is { } log)
        {
            variables["SCRUN_LOG_FILE"] = log;
            variables["SCRUN_LOG_FORMAT"] = _launch.LogFormat;
        }
        foreach (var (key, value) in _config.Annotations)
        {
            variables[$"SCRUN_ANNOTATION_{key}"] = value;
        }
        return variables;
    }

    private async Task WatchCallbacksAsync(Slurm.CallbackListener listener)
    {
        try
        {
            await foreach (var callback in listener.Callbacks.ReadAllAsync())
            {
                switch (callback)
                {
                    case Slurm.Messages.SrunTimeout:
                        Record(s => s with { StopReason = $"job {s.JobId} reached its time limit" });
                        break;
                    case Slurm.Messages.SrunNodeFail fail:
                        Record(s => s with { StopReason = $"job {s.JobId} lost node(s) {fail.Nodes}" });
                        break;
                    case Slurm.Messages.SrunUserMessage message:
                        _stderr.Write($"scrun: {message.Message}\n");
                        break;
                    case Slurm.Messages.SrunJobComplete:
                        Abort(128 + 9, "its job ended");
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Ends a container that is not running yet (deleted, killed, or its job gone);
    /// <paramref name="failure"/>, when given, is what a creation it interrupts fails with.
    /// </summary>
    private void Abort(int exitCode, string why, string? failure = null)
    {
        lock (_gate)
        {
            if (_state.Status >= ContainerStatus.Starting)
            {
                return;
            }
            _abortExitCode ??= exitCode;
            _abortFailure ??= failure;
        }
        _log.Debug("container {Id} ends before starting: {Why}", _launch.Id, why);
        _abort.Cancel();
    }

    private async Task<ControlResponse> HandleAsync(ControlRequest request, CancellationToken cancellation)
    {
        try
        {
            return request.Op switch
            {
                "state" => Reply(),
                "start" => await StartAsync(cancellation),
                "kill" => await KillAsync(request.Signal),
                "delete" => await DeleteAsync(request.Force, cancellation),
                _ => new ControlResponse { Error = $"unknown operation '{request.Op}'" },
            };
        }
        catch (ContainerException e)
        {
            return new ControlResponse { Error = e.Message, ExitCode = e.ExitCode, State = Snapshot() };
        }
        catch (Exception e) when (IsExpected(e) && e is not OperationCanceledException)
        {
            // The real cause (munged or slurmctld gone): the caller must not take it for "not running".
            return new ControlResponse { Error = $"cannot {request.Op} container \"{_launch.Id}\": {e.Message}", State = Snapshot() };
        }
    }

    private async Task<ControlResponse> StartAsync(CancellationToken cancellation)
    {
        lock (_gate)
        {
            switch (_state.Status)
            {
                case ContainerStatus.Creating:
                    throw new ContainerException($"cannot start container \"{_launch.Id}\": it is still being created");
                case ContainerStatus.Created:
                    Update(s => s with { Status = ContainerStatus.Starting }); // a state that cannot be recorded fails the start, nothing else
                    _startRequested.TrySetResult();
                    break;
                case ContainerStatus.Starting or ContainerStatus.Running:
                    throw new ContainerException($"cannot start container \"{_launch.Id}\": it is already running");
                default:
                    throw new ContainerException($"cannot start container \"{_launch.Id}\": it has stopped");
            }
        }
        await _running.Task.WaitAsync(cancellation);
        return Reply();
    }

    private async Task<ControlResponse> KillAsync(int signal)
    {
        ContainerStatus status;
        lock (_gate)
        {
            status = _state.Status;
        }
        switch (status)
        {
            case ContainerStatus.Creating or ContainerStatus.Created:
                if (signal is 17 or 18 or 23 or 28)
                {
                    return Reply(); // SIGCHLD, SIGCONT, SIGURG, SIGWINCH: ignored by a process that has not started
                }
                Abort(128 + signal, $"signal {signal}");
                return Reply();
            case ContainerStatus.Starting or ContainerStatus.Running:
                await SignalStepAsync(signal);
                return Reply();
            default:
                throw new ContainerException($"cannot kill container \"{_launch.Id}\": container not running");
        }
    }

    /// <summary>The container's processes on the node get the signal (srun would cancel the step on SIGTERM).</summary>
    private async Task SignalStepAsync(int signal)
    {
        await _running.Task;
        if (signal == 9)
        {
            _sigkilled = true;
        }
        await _job!.SignalStepAsync(signal);
    }

    private async Task<ControlResponse> DeleteAsync(bool force, CancellationToken cancellation)
    {
        ContainerStatus status;
        lock (_gate)
        {
            status = _state.Status;
        }
        if (status < ContainerStatus.Stopped && !force && status != ContainerStatus.Created)
        {
            throw new ContainerException($"cannot delete container \"{_launch.Id}\" that is not stopped: {status.OciStatus()}");
        }
        if (status is ContainerStatus.Starting or ContainerStatus.Running)
        {
            try
            {
                await SignalStepAsync(9);
            }
            catch (Exception e) when (IsExpected(e))
            {
                _sigkilled = false;
                throw new ContainerException($"cannot delete container \"{_launch.Id}\": its step could not be killed ({e.Message})");
            }
        }
        else if (status < ContainerStatus.Starting)
        {
            Abort(128 + 9, "deleted");
        }
        else if (_failure is not null && _job is { Ended: false, JobId: { } job })
        {
            // A failed creation whose job could not be cancelled yet: try now, for the caller.
            if (await EndJobAsync(null) is { } failure)
            {
                throw new ContainerException($"cannot delete container \"{_launch.Id}\": its job {job} could not be cancelled ({failure})");
            }
            await _cancelledByDelete.CancelAsync();
        }
        await _stopped.Task.WaitAsync(cancellation);
        // Deleted, whatever stopped it: a creation that failed is create's error, not delete's.
        return new ControlResponse { Ok = true, State = Snapshot() };
    }

    private ControlResponse Reply() => new() { Ok = _failure is null, Error = _failure, State = Snapshot() };

    private ContainerState Snapshot()
    {
        lock (_gate)
        {
            return _state;
        }
    }

    /// <summary>A transition that must be on disk: it happens only if state.json could be written.</summary>
    /// <exception cref="ContainerException">The state could not be written; nothing changed.</exception>
    private void Update(Func<ContainerState, ContainerState> change)
    {
        lock (_gate)
        {
            var next = change(_state);
            StateStore.Write(_paths, next);
            _state = next;
        }
    }

    /// <summary>
    /// A transition that has happened whether or not it can be written (the step runs, the
    /// container stopped): kept in memory and, if the disk refuses, logged.
    /// </summary>
    private void Record(Func<ContainerState, ContainerState> change)
    {
        lock (_gate)
        {
            _state = change(_state);
            try
            {
                StateStore.Write(_paths, _state);
            }
            catch (ContainerException e)
            {
                _log.Warning("{Reason}", e.Message);
            }
        }
    }

    private static string UserName(uint uid)
    {
        foreach (var line in File.Exists("/etc/passwd") ? File.ReadLines("/etc/passwd") : [])
        {
            var fields = line.Split(':');
            if (fields.Length > 2 && fields[2] == uid.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                return fields[0];
            }
        }
        return uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
