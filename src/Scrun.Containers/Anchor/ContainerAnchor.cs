using Scrun.Containers.Control;
using System.Threading.Channels;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Scrun.Slurm;
using Scrun.Slurm.Interop;
using Serilog;
using static Scrun.Containers.Anchor.AnchorEvent;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The process that is the container for Docker and Podman: one per container, started by
/// <c>create</c> with the container's <see cref="ContainerPlan"/>. It holds the container's
/// claim, answers the CLI on its socket, and runs the container's life as one loop: every
/// event (a verb's request, the end of creation, the step's launch and exit, a word from Slurm
/// or the nodes, a signal) is taken one at a time through <see cref="AnchorTransitions"/>, which
/// alone changes the status; the work an event sets off (allocating, staging, launching,
/// signalling, winding down) runs beside the loop and reports back as events. Its exit status
/// is the container's.
/// </summary>
public sealed partial class ContainerAnchor
{
    private readonly ContainerPlan _plan;
    private readonly BundleConfig _config;
    private readonly string? _jwt;
    private readonly ILogger _log;
    private readonly TextWriter _stderr;
    private readonly Func<SlurmController, IStepLauncher> _launcher;
    private readonly Func<SlurmController, bool, NodeCommands.INodeCommandLauncher> _nodeLauncher;
    private readonly ExitPatience _patience;
    private readonly ContainerPaths _paths;
    private readonly AnchorState _state;
    private readonly CreationReport _report;
    private readonly ContainerEnvironment _environment;
    private readonly Channel<Pending> _events = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<Pending> _deferred = [];
    private readonly List<(Func<ContainerStatus, bool> Until, TaskCompletionSource<ContainerStatus> Reached)> _waits = [];
    private readonly CancellationTokenSource _creation = new();
    private readonly CancellationTokenSource _cancelledByDelete = new();

    // Set by the loop alone.
    private string? _failure;
    private string? _startFailure;
    private RunningStep? _step;

    /// <summary>Why creation was interrupted, when it was not by a request (create went away).</summary>
    private volatile string? _interruption;

    /// <param name="plan">The container's plan, as create resolved it.</param>
    /// <param name="launch">The descriptors create handed over: the claim and the creation report.</param>
    /// <param name="jwt"><c>SLURM_JWT</c>, from the anchor's environment (never in the plan).</param>
    /// <param name="log">The anchor's log (the --log file).</param>
    /// <param name="stderr">The container's stderr, where scrun's lines for the user go.</param>
    /// <param name="launcher">What launches the step in the job's cluster (the plan's choice, unless a test says otherwise).</param>
    /// <param name="patience">How long Slurm's word on a step is waited for once another word has come.</param>
    /// <param name="nodeLauncher">What runs exec's, pause's and resume's commands on the container's node (native: the container's step was launched natively).</param>
    internal ContainerAnchor(ContainerPlan plan, LaunchContext launch, string? jwt, ILogger log, TextWriter stderr,
        Func<SlurmController, IStepLauncher>? launcher = null, ExitPatience? patience = null,
        Func<SlurmController, bool, NodeCommands.INodeCommandLauncher>? nodeLauncher = null)
    {
        _nodeLauncher = nodeLauncher ?? DefaultNodeLauncher;
        _plan = plan;
        _config = plan.Config;
        _jwt = jwt;
        _log = log;
        _stderr = stderr;
        _launcher = launcher ?? ChooseLauncher;
        _patience = patience ?? ExitPatience.Default;
        _paths = plan.Paths;
        if (launch.ClaimDescriptor >= 0)
        {
            LibC.SetCloseOnExec(launch.ClaimDescriptor, true); // held until this process ends, by it alone
        }
        _report = new CreationReport(launch.ReportDescriptor, () => Notify(new CreatorGone()));
        _environment = new ContainerEnvironment(plan.Launch, _paths, _config);
        var identity = ProcessIdentity.Current;
        // The directory create claimed, held for the anchor's life (by path only when no claim was handed over).
        var directory = launch.ClaimDescriptor >= 0 ? DirectoryHandle.Borrow(launch.ClaimDescriptor, _paths.Directory) : DirectoryHandle.Open(_paths.Directory);
        _state = new AnchorState(_paths.Id, directory, new ContainerState
        {
            Id = plan.Launch.Id,
            Status = ContainerStatus.Creating,
            Bundle = plan.Launch.Bundle,
            AnchorPid = Environment.ProcessId,
            PidFile = plan.Launch.PidFile,
            Created = DateTimeOffset.UtcNow,
            OwnerUid = identity.Uid,
            Owner = PasswordDatabase.UserName(identity.Uid),
            JobReleased = true,
            SlurmConf = plan.SlurmConf,
            OciVersion = _config.OciVersion,
            RootPath = _config.RootPath,
            Annotations = _config.Annotations,
        }, log);
    }

    private string Id => _plan.Launch.Id;

    /// <summary>The anchor create started: its plan is read from the directory create claimed and handed over.</summary>
    /// <exception cref="ContainerException">There is no plan, or it is not the caller's.</exception>
    public static ContainerAnchor FromLaunch(LaunchContext launch, string? jwt, ILogger log, TextWriter stderr)
    {
        var id = ContainerId.Parse(launch.Id);
        var paths = new ContainerPaths(launch.Root, id);
        using var directory = launch.ClaimDescriptor >= 0 ? DirectoryHandle.Borrow(launch.ClaimDescriptor, paths.Directory) : DirectoryHandle.Open(paths.Directory);
        return new ContainerAnchor(ContainerPlan.Read(directory, id), launch, jwt, log, stderr);
    }

    /// <summary>
    /// A signal sent to the anchor (the pid in --pid-file) is the container's, as kill sends it:
    /// a container not started yet ends and its job is cancelled. With a terminal, HUP is the
    /// caller closing its side, which the container outlives.
    /// </summary>
    public async Task SignalAsync(Signal signal)
    {
        if (signal == Signal.Hangup && _terminalRelay is not null)
        {
            return;
        }
        if (await RequestAsync(new Kill(signal)) is { Ok: false, Error: { } error })
        {
            _log.Warning("signal {Signal} to container {Id}: {Reason}", signal, Id, error);
        }
    }

    /// <summary>Runs the container to its end and returns its exit code (the anchor's exit status).</summary>
    public async Task<int> RunAsync()
    {
        await using var server = new AnchorServer(_paths, _state.Current.OwnerUid, (request, _) => RequestAsync(ToEvent(request)), _log, ServeExecAsync);
        var loop = LoopAsync();
        try
        {
            _state.Update(s => s); // the state is on disk before anyone can ask for it
            server.Start();
            OpenTerminal();
            Spawn(CreateAsync);
        }
        catch (Exception e) when (IsExpected(e))
        {
            Notify(new CreationFailed(e is System.Net.Sockets.SocketException && _plan.Launch.ConsoleSocket is { } console
                ? $"cannot reach the console socket {console}: {e.Message}"
                : Describe(e)));
        }
        return await loop;
    }

    private static AnchorEvent ToEvent(ControlRequest request) => request.Op switch
    {
        ControlOperation.Start => new Start(),
        ControlOperation.Kill => new Kill(request.Signal),
        ControlOperation.Delete => new Delete(request.Force),
        ControlOperation.Pause => new Pause(),
        ControlOperation.Resume => new Resume(),
        _ => new Query(),
    };

    /// <summary>A request, answered once the loop has taken it (or from the final state once the loop is over).</summary>
    private Task<ControlResponse> RequestAsync(AnchorEvent request)
    {
        var pending = new Pending(request, new TaskCompletionSource<ControlResponse>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_events.Writer.TryWrite(pending))
        {
            AnswerAsStopped(pending);
        }
        return pending.Reply!.Task;
    }

    private void AnswerAsStopped(Pending pending) =>
        Answer(pending, ContainerStatus.Stopped, AnchorTransitions.Decide(ContainerStatus.Stopped, pending.Event, stepLaunched: false).Effect);

    /// <summary>An event from the anchor's own work: taken by the loop, or dropped once it is over.</summary>
    private void Notify(AnchorEvent anchorEvent) => _events.Writer.TryWrite(new Pending(anchorEvent, null));

    private async Task<int> LoopAsync()
    {
        await foreach (var pending in _events.Reader.ReadAllAsync())
        {
            if (Take(pending))
            {
                break;
            }
        }
        _events.Writer.TryComplete();
        // What is still deferred or queued is answered as a stopped container answers.
        _deferred.ForEach(AnswerAsStopped);
        while (_events.Reader.TryRead(out var late))
        {
            AnswerAsStopped(late);
        }
        var final = _state.Current;
        _log.Debug("container {Id} stopped with exit code {ExitCode}", Id, final.ExitCode);
        return _failure is not null ? 1 : final.ExitCode ?? 1;
    }

    /// <summary>Takes one event: the table's transition, recorded, then its effect. True once the anchor is done.</summary>
    private bool Take(Pending pending)
    {
        var from = _state.Current.Status;
        var anchorEvent = pending.Event;
        Note(anchorEvent, from);
        var transition = AnchorTransitions.Decide(from, anchorEvent, _step is not null);
        _log.Debug("container {Id}: {Event} while {Status}: {Next}, {Effect}", Id, anchorEvent.GetType().Name, from, transition.Next, transition.Effect);
        if (transition.Effect is AnchorEffect.Defer or AnchorEffect.ThawFirst)
        {
            _deferred.Add(pending);
            if (transition.Effect == AnchorEffect.ThawFirst)
            {
                StartThaw(null);
            }
            return false;
        }
        if (transition.Next != from)
        {
            try
            {
                ChangeStatus(from, transition, anchorEvent);
            }
            catch (ContainerException e) when (transition.MustBeRecorded(from))
            {
                // Not on disk, so it has not happened: a start is refused, a creation fails.
                pending.Reply?.TrySetResult(ControlResponse.Refused(e, _state.Current));
                if (anchorEvent is Created)
                {
                    Notify(new CreationFailed(e.Message));
                }
                return false;
            }
        }
        Effect(transition.Effect, pending, from);
        if (transition.Next != from || anchorEvent is Launched)
        {
            Reoffer();
        }
        return transition.Effect == AnchorEffect.Exit;
    }

    private void ChangeStatus(ContainerStatus from, Transition transition, AnchorEvent cause)
    {
        Func<ContainerState, ContainerState> change = cause is Released { ExitCode: { } exitCode } && _failure is null
            ? s => s with { Status = transition.Next, ExitCode = exitCode }
            : s => s with { Status = transition.Next };
        if (transition.MustBeRecorded(from))
        {
            _state.Update(change);
        }
        else
        {
            _state.Record(change);
        }
        lock (_waits)
        {
            foreach (var wait in _waits.Where(w => w.Until(transition.Next)).ToList())
            {
                _waits.Remove(wait);
                wait.Reached.TrySetResult(transition.Next);
            }
        }
    }

    /// <summary>The exit code an event that ends the container fixes: the step's, 127 for a step never launched, 128+N for a signal before start.</summary>
    private static int? ExitCodeOf(AnchorEvent cause, ContainerStatus from) => (cause, from) switch
    {
        (StepExited exited, _) => exited.ExitCode,
        (LaunchFailed, _) => 127,
        (Kill kill, ContainerStatus.Created) => kill.Signal.ExitCode,
        (Delete or JobEnded, ContainerStatus.Created) => Signal.Kill.ExitCode,
        _ => null,
    };

    /// <summary>Events deferred while the step was launched or the container started are taken again, in order.</summary>
    private void Reoffer()
    {
        var deferred = _deferred.ToList();
        _deferred.Clear();
        deferred.ForEach(pending => Take(pending));
    }

    /// <summary>Resolves once the status satisfies <paramref name="until"/> (checked at every change, by the loop).</summary>
    private Task<ContainerStatus> WaitUntilAsync(Func<ContainerStatus, bool> until)
    {
        lock (_waits)
        {
            var status = _state.Current.Status;
            if (until(status))
            {
                return Task.FromResult(status);
            }
            var reached = new TaskCompletionSource<ContainerStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waits.Add((until, reached));
            return reached.Task;
        }
    }

    /// <summary>What an event says beyond the status: why the container stopped or did not start.</summary>
    private void Note(AnchorEvent anchorEvent, ContainerStatus status)
    {
        switch (anchorEvent)
        {
            case TimeLimitReached or NodesFailed when status != ContainerStatus.Stopped:
                var reason = anchorEvent is NodesFailed failed ? $"job {_state.Current.JobId} lost node(s) {failed.Nodes}" : $"job {_state.Current.JobId} reached its time limit";
                _state.Record(s => s with { StopReason = reason });
                break;
            case LaunchFailed launch when status == ContainerStatus.Starting:
                _startFailure = $"cannot launch the step: {launch.Reason}";
                _state.Record(s => s with { StopReason = $"the step could not be launched: {launch.Reason}" });
                break;
            case StartFailed start when status == ContainerStatus.Starting:
                _startFailure = start.Reason;
                break;
            case StepExited exited when status == ContainerStatus.Starting:
                _startFailure ??= $"the container's step ended (exit code {exited.ExitCode}) before scrun node-run reported from its node";
                break;
        }
    }

    /// <summary>
    /// Work beside the loop: it reports back as events. A failure it did not expect is a bug: the
    /// anchor exits, as a crash would, and the guard and create clean up after it.
    /// </summary>
    private void Spawn(Func<Task> work) => _ = Task.Run(async () =>
    {
        try
        {
            await work();
        }
        catch (Exception e)
        {
            _log.Fatal("container {Id}: unexpected failure, the anchor exits: {Failure}", Id, e);
            Environment.Exit(70); // EX_SOFTWARE
        }
    });

    private ControlResponse Reply() => new() { Ok = _failure is null, Error = _failure, State = _state.Current };

    private static bool IsExpected(Exception e) =>
        e is ContainerException or SlurmClientException or OperationCanceledException or TimeoutException
            or IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException or System.ComponentModel.Win32Exception;

    private static string Describe(Exception e) => e switch
    {
        SlurmException s => $"Slurm refused the job: {s.Message}",
        _ => e.Message,
    };

    /// <summary>An event and, for a request, its answer.</summary>
    private sealed record Pending(AnchorEvent Event, TaskCompletionSource<ControlResponse>? Reply);
}
