using System.Runtime.InteropServices;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Scrun.Containers.Staging;
using Scrun.Containers.Terminals;
using Scrun.Slurm;
using Scrun.Slurm.Interop;
using Serilog;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The process that is the container for Docker and Podman: one per container, started by
/// <c>create</c>. It holds the container's claim and answers the CLI on its socket, and runs
/// the container's life over its parts: the job (<see cref="JobSession"/>), the staging
/// (<see cref="IStaging"/>), the step (<see cref="IStepRunner"/>), the state
/// (<see cref="AnchorState"/>), the environments (<see cref="ContainerEnvironment"/>) and
/// create's report (<see cref="CreationReport"/>). Its exit status is the container's.
/// </summary>
public sealed partial class ContainerAnchor
{
    /// <summary>How long a job that could not be cancelled after a failed creation is retried.</summary>
    private static readonly TimeSpan s_cancelPersistence = TimeSpan.FromHours(24);

    /// <summary>How long a launched step's scrun node-run is given to say hello before the nodes are taken to run something else.</summary>
    private static readonly TimeSpan s_nodeHelloPatience = TimeSpan.FromSeconds(60);

    private readonly LaunchContext _launch;
    private readonly IReadOnlyDictionary<string, string> _variables;
    private readonly ILogger _log;
    private readonly TextWriter _stderr;
    private readonly Func<SlurmController, IStepRunner> _stepRunner;
    private readonly ContainerPaths _paths;
    private readonly AnchorState _state;
    private readonly CreationReport _report;
    private readonly TaskCompletionSource _startRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _launched = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _running = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _abort = new();
    private readonly CancellationTokenSource _cancelledByDelete = new();
    private BundleConfig _config = null!;
    private ContainerEnvironment _containerEnvironment = null!;
    private JobSession? _job;
    private IStaging? _staging;
    private StagedBundle? _staged;
    private StagingContext? _stagingContext;
    private TerminalRelay? _terminalRelay;
    private volatile IStep? _step;
    private volatile NodeControl.NodeControlChannel? _nodes;
    private Task<NodeControl.JobLease?>? _leasing;
    private Slurm.Config.OciConfig? _ociConfig;
    private StepLauncherChoice? _launcherChoice;
    private int? _abortExitCode;
    private string? _abortFailure;
    private bool _stoppedBeforeStart;
    private volatile bool _sigkilled;
    private int _killRepeater;
    private static readonly TimeSpan s_killRepeat = TimeSpan.FromSeconds(2);
    private string? _failure;

    /// <param name="launch">What create was asked for.</param>
    /// <param name="environment">The anchor's environment: SCRUN_*, SLURM_CONF, SLURM_JWT...</param>
    /// <param name="log">The anchor's log (the --log file).</param>
    /// <param name="stderr">The container's stderr, where scrun's lines for the user go.</param>
    /// <param name="stepRunner">What runs the step in the job's cluster (srun, unless a test says otherwise).</param>
    public ContainerAnchor(LaunchContext launch, IReadOnlyDictionary<string, string> environment, ILogger log, TextWriter stderr, Func<SlurmController, IStepRunner>? stepRunner = null)
    {
        _launch = launch;
        _variables = environment;
        _log = log;
        _stderr = stderr;
        _stepRunner = stepRunner ?? ChooseStepRunner;
        if (launch.ClaimDescriptor >= 0)
        {
            LibC.SetCloseOnExec(launch.ClaimDescriptor, true); // held until this process ends, by it alone
        }
        _report = new CreationReport(launch.ReportDescriptor, () => Abort(128 + 9, "create went away", "create was interrupted before the container was created"));
        _paths = new ContainerPaths(launch.Root, ContainerId.Parse(launch.Id));
        var identity = ProcessIdentity.Current;
        // The directory create claimed, held for the anchor's life (by path only when no claim was handed over).
        var directory = launch.ClaimDescriptor >= 0 ? DirectoryHandle.Borrow(launch.ClaimDescriptor, _paths.Directory) : DirectoryHandle.Open(_paths.Directory);
        _state = new AnchorState(_paths.Id, directory, new ContainerState
        {
            Id = launch.Id,
            Status = ContainerStatus.Creating,
            Bundle = launch.Bundle,
            AnchorPid = Environment.ProcessId,
            PidFile = launch.PidFile,
            Created = DateTimeOffset.UtcNow,
            OwnerUid = identity.Uid,
            Owner = PasswordDatabase.UserName(identity.Uid),
            JobReleased = true,
        }, log);
    }

    /// <summary>
    /// The anchor as a process of its own: out of create's session (a Ctrl-C or a timeout meant
    /// for create must not reach it), with TERM, INT and HUP taken as the container's signals.
    /// </summary>
    public static int RunAsProcess(ContainerAnchor anchor)
    {
        LibC.setsid();
        var signals = new[] { (PosixSignal.SIGTERM, 15), (PosixSignal.SIGINT, 2), (PosixSignal.SIGHUP, 1) }
            .Select(pair => PosixSignalRegistration.Create(pair.Item1, context =>
            {
                context.Cancel = true;
                _ = Task.Run(() => anchor.SignalAsync(pair.Item2));
            }))
            .ToList();
        try
        {
            return anchor.RunAsync().GetAwaiter().GetResult();
        }
        finally
        {
            signals.ForEach(s => s.Dispose());
        }
    }

    /// <summary>
    /// A signal sent to the anchor (the pid in --pid-file) is the container's, as kill sends it:
    /// a container not started yet ends and its job is cancelled. With a terminal, HUP is the
    /// caller closing its side, which the container outlives.
    /// </summary>
    public async Task SignalAsync(int signal)
    {
        if (signal == 1 && _terminalRelay is not null)
        {
            return;
        }
        try
        {
            await KillAsync(signal);
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Warning("signal {Signal} to container {Id}: {Reason}", signal, _launch.Id, e.Message);
        }
    }

    /// <summary>Runs the container to its end and returns its exit code (the anchor's exit status).</summary>
    public async Task<int> RunAsync()
    {
        await using var server = new AnchorServer(_paths, _state.Current.OwnerUid, HandleAsync, _log);
        try
        {
            _config = BundleConfig.Load(_launch.Bundle);
            _containerEnvironment = new ContainerEnvironment(_launch, _paths, _config);
            _state.Update(s => s with { OciVersion = _config.OciVersion, RootPath = _config.RootPath, Annotations = _config.Annotations });
            server.Start();
            OpenTerminal();
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
        _state.Record(s => s with { Status = ContainerStatus.Stopped, ExitCode = exitCode });
        _stopped.TrySetResult();
        _log.Debug("container {Id} stopped with exit code {ExitCode}", _launch.Id, exitCode);
        return exitCode;
    }

    private async Task<int> LiveAsync()
    {
        try
        {
            await AcquireJobAsync();
            RefuseAutomaticSrunInUserNamespace();
            HoldJob();
            await StageInAsync();
            WritePidFile();
            _state.Update(s => s with { Status = ContainerStatus.Created });
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

        var watcher = _job?.Listener is { } listener ? WatchCallbacksAsync(listener) : Task.CompletedTask;
        var exitCode = await RunStepAsync();
        _state.Record(s => s with { Status = ContainerStatus.Stopping, ExitCode = exitCode });
        await StageOutAsync();
        await ReleaseLeaseAsync();
        var ended = await EndJobAsync(_stoppedBeforeStart ? null : exitCode); // killed or deleted while created: cancelled, as scancel would
        if (_job is not null)
        {
            await _job.DisposeAsync();
        }
        await watcher;
        if (_state.Current.StopReason is { } stopReason)
        {
            _stderr.Write($"scrun: error: container {_launch.Id}: {stopReason}\n");
        }
        if (ended is not null)
        {
            _stderr.Write($"scrun: error: container {_launch.Id}: job {_job!.JobId} could not be ended ({ended}); it is ended once slurmctld and munged answer, or by 'scrun delete {_launch.Id}'\n");
        }
        return exitCode;
    }

    private static bool IsExpected(Exception e) =>
        e is ContainerException or BundleException or SlurmClientException or OperationCanceledException or TimeoutException
            or IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException or System.ComponentModel.Win32Exception;

    private static string Describe(Exception e) => e switch
    {
        SlurmException s => $"Slurm refused the job: {s.Message}",
        _ => e.Message,
    };
}
