using System.Net.Sockets;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Config;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Steps;

/// <summary>
/// A step launched the way srun launches it, without srun: <c>REQUEST_JOB_STEP_CREATE</c> to
/// slurmctld, <c>REQUEST_LAUNCH_TASKS</c> to each node's slurmd, then slurmstepd calls back on
/// three ports of this process: the response port (launch result, task exits), the I/O port
/// (stdio, one connection per node) and, in pty mode, the window-size port.
/// <see cref="Completion"/> gives the step's exit code once every task has ended and its output
/// is written.
/// </summary>
public sealed partial class StepSession : IAsyncDisposable
{
    /// <summary>How long output may trail the last task's exit (srun waits the same way for slow I/O).</summary>
    private static readonly TimeSpan s_outputDrain = TimeSpan.FromSeconds(5);

    /// <summary>The errors srun retries a step creation on: the nodes are still busy with the last step, or slurmctld is.</summary>
    private static readonly int[] s_busy = [SlurmErrors.TryAgain, SlurmErrors.Disabled, SlurmErrors.NodesBusy, SlurmErrors.PortsBusy, SlurmErrors.InterconnectBusy];

    private readonly SlurmController _controller;
    private readonly StepRequest _request;
    private readonly StepStreams _streams;
    private readonly Action<string> _log;
    private readonly IncomingMessages _incoming;
    private readonly Socket _responseListener;
    private readonly Socket _ioListener;
    private readonly Socket? _ptyListener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource<int> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _loops = [];
    private JobStepCreateResponse? _created;
    private ProtocolVersion _launchVersion;
    private bool _launchSent;

    private StepSession(SlurmController controller, StepRequest request, StepStreams streams, Action<string>? log)
    {
        _controller = controller;
        _request = request;
        _streams = streams;
        _log = log ?? (_ => { });
        var munge = controller.UsesMunge && controller.Authenticator is MungeAuthenticator authenticator ? authenticator.Munge : null;
        _incoming = IncomingMessages.For(controller.Config, munge, controller.Authenticator);
        var range = controller.Config.SrunPortRange;
        _responseListener = IncomingMessages.Listen(range);
        _ioListener = IncomingMessages.Listen(range);
        _ptyListener = request.Terminal is null ? null : IncomingMessages.Listen(range);
        _taskStatus = new uint?[request.NodeCount];
    }

    /// <summary>The step slurmctld created (job and step number).</summary>
    public StepId Step => _created is { } created ? created.Step with { JobId = _request.JobId } : new StepId(_request.JobId);

    /// <summary>The step's exit code: the highest of its tasks' (128 + N for a signal), once their output is written.</summary>
    public Task<int> Completion => _completion.Task;

    /// <summary>Creates the step and launches its tasks; the session then runs until <see cref="Completion"/>.</summary>
    /// <exception cref="SlurmClientException">slurmctld refused the step, or a node refused its launch (the step is then completed).</exception>
    public static async Task<StepSession> LaunchAsync(SlurmController controller, StepRequest request, StepStreams streams, Action<string>? log = null, CancellationToken cancellation = default)
    {
        var session = new StepSession(controller, request, streams, log);
        try
        {
            session.StartListening();
            await session.CreateAsync(cancellation);
            await session.LaunchTasksAsync(cancellation);
            return session;
        }
        catch (Exception e)
        {
            if (session._created is not null && !session._launchSent)
            {
                await session.CompleteUnlaunchedAsync(e);
            }
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>A step created but never launched would hold the job's CPUs until the job ends.</summary>
    private async Task CompleteUnlaunchedAsync(Exception why)
    {
        var lastNode = Math.Max(_created!.Layout.NodeCount, 1) - 1;
        var returnCode = why is SlurmException slurm ? slurm.ErrorNumber : SlurmErrors.UnexpectedMessage;
        await TryAsync(() => _controller.CompleteStepAsync(new StepCompleteRequest(Step, 0, lastNode, returnCode), CancellationToken.None));
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _responseListener.Dispose();
        _ioListener.Dispose();
        _ptyListener?.Dispose();
        CloseConnections();
        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _completion.TrySetResult(Signal.Kill.ExitCode);
        _stopping.Dispose();
    }

    private void StartListening()
    {
        _loops.Add(IncomingMessages.AcceptEachAsync(_responseListener, HandleResponseAsync, _stopping.Token));
        _loops.Add(IncomingMessages.AcceptEachAsync(_ioListener, HandleIoAsync, _stopping.Token));
        if (_ptyListener is not null)
        {
            _loops.Add(IncomingMessages.AcceptEachAsync(_ptyListener, HandleWindowConnectionAsync, _stopping.Token));
        }
    }

    private async Task CreateAsync(CancellationToken cancellation)
    {
        var pause = TimeSpan.FromMilliseconds(250);
        var giveUp = _request.BusyPatience is { } patience ? DateTime.UtcNow + patience : DateTime.MaxValue;
        while (true)
        {
            try
            {
                _created = await _controller.CreateStepAsync(CreateRequest, cancellation);
                break;
            }
            catch (SlurmException e) when (s_busy.Contains(e.ErrorNumber) && DateTime.UtcNow < giveUp)
            {
                _log($"job {_request.JobId}: step creation temporarily disabled, retrying ({e.Message})");
                await Task.Delay(pause, cancellation);
                pause = pause * 2 < TimeSpan.FromSeconds(5) ? pause * 2 : TimeSpan.FromSeconds(5);
            }
        }
        var created = _created;
        if (created.Layout.NetworkCredential is not null)
        {
            throw new SlurmProtocolException("the step's nodes are dynamic or cloud nodes (net_cred): their addresses are not in slurm.conf");
        }
        _launchVersion = created.CredentialVersion >= ProtocolVersion.V25_11 ? created.Layout.StartProtocolVersion : created.UseProtocolVersion;
        if (!_launchVersion.IsSupported)
        {
            throw new SlurmProtocolException($"the step's nodes speak {_launchVersion}, a launch format the native launcher does not write");
        }
        if (created.Layout.TaskCount != _request.NodeCount || created.Layout.TaskIds.Any(ids => ids.Any(id => id >= _request.NodeCount)))
        {
            throw new SlurmProtocolException($"step {Step} has {created.Layout.TaskCount} tasks, not one per node ({_request.NodeCount})");
        }
        _log($"step {Step} created on {created.Layout.NodeList}; launching in the {_launchVersion.Release} format");
    }

    private JobStepCreateRequest CreateRequest(ProtocolVersion version) => new()
    {
        JobId = _request.JobId,
        // 22.05 compares it with the MUNGE uid and the job owner; later releases put the MUNGE uid in place of 99.
        UserId = version < ProtocolVersion.V23_02 ? _request.UserId : JobStepCreateRequest.AuthenticatedUser,
        MinNodes = _request.NodeCount,
        MaxNodes = _request.NodeCount,
        TaskCount = _request.NodeCount,
        CpuCount = _request.NodeCount,
        Container = _request.Container,
        ContainerId = _request.ContainerId,
        Flags = _request.Overlapping ? JobStepCreateRequest.OverlapForce : JobStepCreateRequest.Exclusive | JobStepCreateRequest.Whole,
        LauncherPid = (uint)Environment.ProcessId,
        Host = Environment.MachineName,
        Name = _request.Name,
        WorkingDirectory = _request.WorkingDirectory,
        SubmitLine = string.Join(' ', _request.Arguments),
    };

    private async Task LaunchTasksAsync(CancellationToken cancellation)
    {
        var created = _created!;
        var names = HostList.Expand(created.Layout.NodeList);
        var nodes = names.Select(_controller.Config.ResolveNode).ToList();
        var launch = LaunchRequest(created);
        var timeout = _controller.Config.MessageTimeout + _controller.Config.BatchStartTimeout;
        _launchSent = true;
        var results = await Task.WhenAll(nodes.Select(node => LaunchOnAsync(node, launch, timeout, cancellation)));
        var failures = results.Select((error, index) => (error, index)).Where(r => r.error is not null).ToList();
        if (failures.Count == 0)
        {
            _ = GiveUpUnlessConnectedAsync();
            return;
        }
        foreach (var (error, index) in failures)
        {
            try
            {
                await _controller.CompleteStepAsync(new StepCompleteRequest(Step, (uint)index, (uint)index, error!.ErrorNumber), CancellationToken.None);
            }
            catch (SlurmClientException e)
            {
                _log($"step {Step}: could not complete node {names[index]} after its failed launch: {e.Message}");
            }
        }
        if (failures.Count < nodes.Count)
        {
            await TryAsync(() => _controller.SignalStepAsync(_request.JobId, Step.StepNumber, Signal.Kill));
        }
        var (first, at) = failures[0];
        throw new SlurmException(first!.ErrorNumber, $"{names[at]} refused to launch step {Step}: {first.Message}");
    }

    private async Task<SlurmException?> LaunchOnAsync(SlurmdAddress node, LaunchTasksRequest launch, TimeSpan timeout, CancellationToken cancellation)
    {
        try
        {
            var reply = await _controller.ExchangeWithNodeAsync(node, launch, _launchVersion, timeout, cancellation);
            SlurmController.ExpectSuccess(reply);
            return null;
        }
        catch (SlurmException e)
        {
            return e;
        }
        catch (SlurmClientException e)
        {
            return new SlurmException(SlurmErrors.CommunicationsConnectionError, e.Message);
        }
    }

    private LaunchTasksRequest LaunchRequest(JobStepCreateResponse created)
    {
        var layout = created.Layout;
        var responsePort = (ushort)IncomingMessages.PortOf(_responseListener);
        var facts = new StepFacts
        {
            Release = LauncherEnvironment.ReleaseOf(_controller.Version ?? _launchVersion, created.Sluid),
            JobName = _request.Name,
            Allocation = _request.Allocation,
            Owner = JobOwner.Resolve(_request.UserId, _request.GroupId),
            Step = Step with { Sluid = created.Sluid },
            Layout = layout,
            ReservedPorts = created.ReservedPorts,
            Container = _request.Container,
            ContainerId = _request.ContainerId,
            ResponsePort = responsePort,
            Terminal = _request.Terminal is { } size ? ((ushort)IncomingMessages.PortOf(_ptyListener!), size) : null,
            Config = _controller.Config,
            SelectPluginId = created.SelectPluginId,
            Process = _request.Launcher ?? LauncherProcess.Current(),
        };
        return new LaunchTasksRequest
        {
            Sluid = created.Step.Sluid,
            JobId = _request.JobId,
            StepNumber = created.Step.StepNumber,
            UserId = _request.UserId,
            GroupId = _request.GroupId,
            // 22.05's slurmd wants mpi/none's id; 23.11 and later cannot resolve it and want NO_VAL, as their srun sends.
            MpiPluginId = _launchVersion < ProtocolVersion.V23_11 ? LaunchTasksRequest.NoMpiPlugin : NoValue.U32,
            TaskCount = layout.TaskCount,
            NodeCount = layout.NodeCount,
            CpusPerTaskCompact = layout.CpusPerTaskCompact,
            CpusPerTaskRepetitions = layout.CpusPerTaskRepetitions,
            TaskDistribution = layout.TaskDistribution,
            CredentialVersion = created.CredentialVersion,
            Credential = created.Credential,
            SelectPluginId = created.SelectPluginId,
            TaskIds = layout.TaskIds,
            ResponsePorts = [responsePort],
            IoPorts = [(ushort)IncomingMessages.PortOf(_ioListener)],
            Environment = LauncherEnvironment.Build(facts, _request.Environment),
            Container = _request.Container,
            WorkingDirectory = _request.WorkingDirectory,
            Arguments = _request.Arguments,
            Flags = _request.Terminal is null ? LaunchTasksRequest.BufferedIo : LaunchTasksRequest.PseudoTerminal,
            CompleteNodeList = layout.NodeList,
            StepManager = created.StepManager,
        };
    }

    private static async Task TryAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (SlurmClientException)
        {
        }
    }
}
