using System.Diagnostics;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Scrun.Containers.Staging;
using Scrun.Slurm;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Config;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;
using Serilog;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The process that is the container for Docker and Podman: one per container, started by
/// <c>create</c>. It owns the Slurm job, the staged bundle and srun; it answers the CLI on its
/// socket; it records every transition in state.json; its exit status is the container's.
/// </summary>
public sealed class ContainerAnchor
{
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromSeconds(5);

    private readonly AnchorLaunch _launch;
    private int _reportDescriptor;
    private bool _stoppedBeforeStart;
    private readonly ILogger _log;
    private readonly TextWriter _stderr;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly ContainerPaths _paths;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _created = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _startRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _running = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _abort = new();
    private ContainerState _state;
    private BundleConfig _config = null!;
    private SlurmController? _slurm;
    private IStaging? _staging;
    private readonly Dictionary<string, string> _jobVariables = new(StringComparer.Ordinal);
    private StagedBundle? _staged;
    private StagingContext? _stagingContext;
    private int? _abortExitCode;
    private volatile bool _sigkilled;
    private string? _terminal;
    private TerminalRelay? _terminalRelay;
    private string? _failure;

    public ContainerAnchor(AnchorLaunch launch, IReadOnlyDictionary<string, string> environment, ILogger log, TextWriter stderr)
    {
        _launch = launch;
        _reportDescriptor = launch.ReportDescriptor;
        if (_reportDescriptor >= 0)
        {
            LibC.SetCloseOnExec(_reportDescriptor, true); // srun and staging hooks must not hold create's pipe open
        }
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
        };
    }

    /// <summary>Runs the container to its end and returns its exit code (the anchor's exit status).</summary>
    public async Task<int> RunAsync()
    {
        await using var server = new AnchorServer(_paths, _state.OwnerUid, HandleAsync, _log);
        try
        {
            _config = BundleConfig.Load(_launch.Bundle);
            Update(s => s with { OciVersion = _config.OciVersion, RootPath = _config.RootPath, Annotations = _config.Annotations });
            server.Start();
            OpenTerminal();
        }
        catch (Exception e) when (e is BundleException or IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            return FailCreation(e is System.Net.Sockets.SocketException && _launch.ConsoleSocket is { } console
                ? $"cannot reach the console socket {console}: {e.Message}"
                : e.Message);
        }

        var exitCode = await LiveAsync();
        if (_failure is not null)
        {
            return exitCode;
        }
        Update(s => s with { Status = ContainerStatus.Stopped, ExitCode = exitCode });
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

    private async Task<int> LiveAsync()
    {
        CallbackListener? listener = null;
        try
        {
            listener = await AcquireJobAsync();
            await StageInAsync();
            Update(s => s with { Status = ContainerStatus.Created });
            _created.TrySetResult();
            ReportCreation();
        }
        catch (Exception e) when (IsExpected(e))
        {
            var failure = !_abort.IsCancellationRequested ? Describe(e)
                : _stagingContext is null ? "the container was stopped before its job started"
                : "the container was stopped during stage-in";
            await CancelJobAsync();
            await StageOutAsync();
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }
            return FailCreation(failure);
        }

        var watcher = listener is null ? Task.CompletedTask : WatchCallbacksAsync(listener);
        var exitCode = await RunStepAsync();
        Update(s => s with { Status = ContainerStatus.Stopping, ExitCode = exitCode });
        await StageOutAsync();
        if (_stoppedBeforeStart)
        {
            await CancelJobAsync(); // killed or deleted while created: the job is cancelled, as scancel would
        }
        else
        {
            await ReleaseJobAsync(exitCode);
        }
        if (listener is not null)
        {
            await listener.DisposeAsync();
        }
        await watcher;
        if (_state.StopReason is { } reason)
        {
            _stderr.Write($"scrun: error: container {_launch.Id}: {reason}\n");
        }
        return exitCode;
    }

    /// <summary>Creation failed: say why to whoever waits in <c>create</c>, and leave nothing behind.</summary>
    private int FailCreation(string reason)
    {
        _failure = reason;
        _log.Error("container {Id} could not be created: {Reason}", _launch.Id, reason);
        _created.TrySetException(new ContainerException(reason));
        _running.TrySetException(new ContainerException(reason));
        _stopped.TrySetResult();
        ReportCreation();
        // create removes the directory once it has our answer; do it too in case it is gone.
        try
        {
            Mounts.DeleteTree(_paths.Directory);
        }
        catch (IOException e)
        {
            _log.Warning("could not remove {Directory}: {Reason}", _paths.Directory, e.Message);
        }
        return 1;
    }

    /// <summary>Tells create how creation ended, once, through the pipe it gave us.</summary>
    private void ReportCreation()
    {
        var fd = Interlocked.Exchange(ref _reportDescriptor, -1);
        if (fd < 0)
        {
            return;
        }
        try
        {
            using var report = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, 1);
            report.Write(System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(Reply(), ControlJsonContext.Default.ControlResponse) + "\n"));
        }
        catch (IOException e)
        {
            _log.Warning("create is gone, it did not read how creation ended: {Reason}", e.Message);
        }
    }

    private static bool IsExpected(Exception e) =>
        e is ContainerException or SlurmException or SlurmUnreachableException or SlurmProtocolException or SlurmConfigException
            or MungeException or OperationCanceledException or IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException;

    private static string Describe(Exception e) => e switch
    {
        SlurmException s => $"Slurm refused the job: {s.Message}",
        _ => e.Message,
    };

    private async Task<CallbackListener?> AcquireJobAsync()
    {
        var options = JobOptions.From(_environment, _config.Env);
        var slurmConfig = SlurmConfig.Load(_launch.SlurmConf, _environment.GetValueOrDefault("SLURM_CONF"));
        // Before the job exists: a script that does not load must not leave one behind.
        _staging = CreateStaging(slurmConfig, options);
        var jwt = _environment.GetValueOrDefault("SLURM_JWT");
        ProtocolVersion? pinned = _environment.GetValueOrDefault("SCRUN_SLURM_PROTOCOL") is { Length: > 0 } release
            && ProtocolVersion.TryParseRelease(release, out var version) ? version : null;
        _slurm = SlurmController.Create(slurmConfig, jwt, pinned);

        if (options.ExistingJobId is { } existing)
        {
            var job = await _slurm.GetJobAsync(existing, _abort.Token)
                ?? throw new ContainerException($"SLURM_JOB_ID={existing} names no job slurmctld knows");
            if (job.State != JobState.Running)
            {
                throw new ContainerException($"SLURM_JOB_ID={existing} is not running (it is {job.State})");
            }
            Update(s => s with { JobId = existing, ExistingAllocation = true });
            foreach (var (name, value) in options.Variables.Where(v => v.Key.StartsWith("SLURM", StringComparison.Ordinal)))
            {
                _jobVariables[name] = value; // as Slurm: the caller's SLURM* variables describe the job
            }
            return null;
        }

        var descriptor = options.ToJobDescriptor(_paths.Id, WorkDirectory());
        var munge = string.IsNullOrEmpty(jwt) ? new MungeClient(slurmConfig.MungeSocket) : null;
        var listener = CallbackListener.Start(slurmConfig, munge, munge is null ? null : new MungeAuthenticator(munge, slurmConfig.MungeTimeToLive));
        descriptor.AllocResponsePort = (ushort)listener.AllocationPort;
        descriptor.OtherPort = (ushort)listener.MessagePort;
        try
        {
            var allocation = await _slurm.AllocateAsync(descriptor, _abort.Token);
            Update(s => s with { JobId = allocation.JobId });
            if (!allocation.IsGranted)
            {
                string? lastReason = null;
                allocation = await _slurm.WaitForAllocationAsync(allocation.JobId, listener, s_pollInterval, job =>
                {
                    var reason = JobReasons.Describe(job.StateReason);
                    if (reason != lastReason)
                    {
                        _stderr.Write($"scrun: waiting for job {job.JobId} ({reason})\n");
                        lastReason = reason;
                    }
                }, _abort.Token);
            }
            RecordJobVariables(allocation, slurmConfig);
            while (!(await _slurm.GetJobReadyAsync(allocation.JobId, _abort.Token)).IsReady)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _abort.Token); // nodes still booting
            }
            return listener;
        }
        catch
        {
            await listener.DisposeAsync();
            throw;
        }
    }

    /// <summary>What salloc would export for the allocation: the staging hooks and their commands see it in job_env.</summary>
    private void RecordJobVariables(ResourceAllocationResponse allocation, SlurmConfig slurmConfig)
    {
        foreach (var entry in allocation.Environment ?? [])
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                _jobVariables[entry[..eq]] = entry[(eq + 1)..];
            }
        }
        var id = allocation.JobId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var nodes = allocation.NodeCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _jobVariables["SLURM_JOB_ID"] = id;
        _jobVariables["SLURM_JOBID"] = id;
        _jobVariables["SLURM_JOB_NUM_NODES"] = nodes;
        _jobVariables["SLURM_NNODES"] = nodes;
        if (allocation.NodeList is { } nodeList)
        {
            _jobVariables["SLURM_JOB_NODELIST"] = nodeList;
            _jobVariables["SLURM_NODELIST"] = nodeList;
        }
        if (allocation.Partition is { } partition)
        {
            _jobVariables["SLURM_JOB_PARTITION"] = partition;
        }
        if (allocation.Qos is { } qos)
        {
            _jobVariables["SLURM_JOB_QOS"] = qos;
        }
        if (allocation.ReservationName is { } reservation)
        {
            _jobVariables["SLURM_JOB_RESERVATION"] = reservation;
        }
        if (slurmConfig.ClusterName is { } cluster)
        {
            _jobVariables["SLURM_CLUSTER_NAME"] = cluster;
        }
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
        var jobEnvironment = new Dictionary<string, string>(_jobVariables, StringComparer.Ordinal);
        foreach (var (name, value) in OutputVariables())
        {
            jobEnvironment[name] = value;
        }
        if (_slurm is not null)
        {
            jobEnvironment["SLURM_CONF"] = _slurm.Config.Path;
        }
        _stagingContext = new StagingContext(_paths.Id, _config, _paths, _state.JobId ?? 0, identity.Uid, identity.Gid, jobEnvironment);
        _staged = await _staging!.StageInAsync(_stagingContext, _abort.Token);
        Update(s => s with { StagedBundle = _staged.Bundle });
    }

    private async Task StageOutAsync()
    {
        if (_staging is null || _stagingContext is null)
        {
            return; // stage-in never began
        }
        await _staging.StageOutAsync(_stagingContext, CancellationToken.None);
        (_staging as IDisposable)?.Dispose();
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
            Update(s => s with { StopReason = $"srun could not be launched: {e.Message}" });
            return 127;
        }
        using (srun)
        using (_terminalRelay)
        {
            _terminalRelay?.Start();
            var errors = srun.StartInfo.RedirectStandardError
                ? Task.Run(() => StepErrorFilter.RelayAsync(srun.StandardError.BaseStream, new DescriptorStream(2)))
                : Task.CompletedTask;
            Update(s => s with { Status = ContainerStatus.Running });
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
        var oci = _slurm is null ? new OciConfig() : OciConfig.LoadBeside(_slurm.Config);
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
        if (_slurm is not null)
        {
            environment["SLURM_CONF"] = _slurm.Config.Path;
        }
        var options = JobOptions.From(_environment, _config.Env);
        return new SrunLaunch(
            SrunPath: oci.SrunPath,
            SrunArgs: oci.SrunArgs,
            JobId: _state.JobId ?? throw new ContainerException("no job to run the container in"),
            JobName: options.Variables.GetValueOrDefault("SCRUN_JOB_NAME") ?? "scrun",
            ContainerId: _launch.Id,
            PassContainerId: _slurm?.Version is { } v && v >= ProtocolVersion.V23_02,
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

    private async Task WatchCallbacksAsync(CallbackListener listener)
    {
        try
        {
            await foreach (var callback in listener.Callbacks.ReadAllAsync())
            {
                switch (callback)
                {
                    case SrunTimeout:
                        Update(s => s with { StopReason = $"job {s.JobId} reached its time limit" });
                        break;
                    case SrunNodeFail fail:
                        Update(s => s with { StopReason = $"job {s.JobId} lost node(s) {fail.Nodes}" });
                        break;
                    case SrunUserMessage message:
                        _stderr.Write($"scrun: {message.Message}\n");
                        break;
                    case SrunJobComplete:
                        Abort(128 + 9, "its job ended");
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Completes the job with the container's status (unless someone else allocated it).</summary>
    private async Task ReleaseJobAsync(int exitCode)
    {
        if (_slurm is null || _state.JobId is not { } job || _state.ExistingAllocation)
        {
            return;
        }
        try
        {
            await _slurm.CompleteAllocationAsync(job, WaitStatus(exitCode));
        }
        catch (SlurmException e) when (e.ErrorNumber == SlurmErrors.AlreadyDone || e.ErrorNumber == SlurmErrors.InvalidJobId)
        {
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Warning("could not release job {Job}: {Reason}", job, e.Message);
        }
    }

    /// <summary>Cancels a job that never ran the container (pending, or allocated but not staged).</summary>
    private async Task CancelJobAsync()
    {
        if (_slurm is null || _state.JobId is not { } job || _state.ExistingAllocation)
        {
            return;
        }
        try
        {
            await _slurm.SignalJobAsync(job, 9);
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Warning("could not cancel job {Job}: {Reason}", job, e.Message);
        }
    }

    /// <summary>What salloc reports to slurmctld: a wait status (exit code in bits 8-15, a signal in the low bits).</summary>
    private static int WaitStatus(int exitCode) => exitCode > 128 && exitCode < 128 + 65 ? exitCode - 128 : exitCode << 8;

    /// <summary>Ends a container that is not running yet (deleted, killed, or its job gone).</summary>
    private void Abort(int exitCode, string why)
    {
        lock (_gate)
        {
            if (_state.Status >= ContainerStatus.Starting)
            {
                return;
            }
            _abortExitCode ??= exitCode;
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
                    _state = _state with { Status = ContainerStatus.Starting };
                    StateStore.Write(_paths, _state);
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
        var job = _state.JobId!.Value;
        try
        {
            await _slurm!.SignalStepAsync(job, 0, signal);
        }
        catch (SlurmException e) when (e.ErrorNumber is SlurmErrors.InvalidJobId or SlurmErrors.AlreadyDone or SlurmErrors.JobPending)
        {
            // the step is not registered yet, or already gone: signal what the job runs
            await _slurm!.SignalJobAsync(job, signal);
        }
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
                _log.Warning("could not kill the step of {Id}: {Reason}", _launch.Id, e.Message);
            }
        }
        else if (status < ContainerStatus.Starting)
        {
            Abort(128 + 9, "deleted");
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

    private void Update(Func<ContainerState, ContainerState> change)
    {
        lock (_gate)
        {
            _state = change(_state);
            StateStore.Write(_paths, _state);
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
