using Scrun.Containers.Interop;
using Scrun.Containers.NodeControl;
using Scrun.Containers.Oci;
using Scrun.Slurm;
using Scrun.Slurm.Config;
using Scrun.Slurm.Messages;

namespace Scrun.Containers.Anchor;

/// <summary>The step: launched once start is asked for, its exit the container's; Slurm's callbacks while it runs.</summary>
public sealed partial class ContainerAnchor
{
    /// <summary>Waits for start (or an early end), runs the step, and returns the container's exit code.</summary>
    private async Task<int> RunStepAsync()
    {
        var first = await Task.WhenAny(_startRequested.Task, Task.Delay(Timeout.Infinite, _abort.Token).ContinueWith(_ => { }, TaskScheduler.Default));
        if (first != _startRequested.Task || _abortExitCode is not null)
        {
            _launched.TrySetException(new ContainerException("the container was stopped before it started"));
            _running.TrySetException(new ContainerException("the container was stopped before it started"));
            _stoppedBeforeStart = true;
            return _abortExitCode ?? 128 + 9;
        }
        IStep step;
        NodeControlChannel? nodes = null;
        try
        {
            _terminalRelay?.BeforeLaunch();
            var launch = StepLaunch();
            nodes = OpenNodeControl();
            if (nodes is not null)
            {
                launch = launch with { Environment = new Dictionary<string, string>(launch.Environment) { [NodeControlProtocol.EnvironmentVariable] = nodes.EnvironmentValue } };
            }
            // Not cancellable: a step slurmctld created is launched or completed, never left half made.
            step = await _stepRunner(_job!.Controller).StartAsync(launch, CancellationToken.None);
        }
        catch (Exception e) when (e is ContainerException or IOException or InvalidOperationException or SlurmClientException or System.Net.Sockets.SocketException)
        {
            if (nodes is not null)
            {
                await nodes.DisposeAsync();
            }
            _launched.TrySetException(new ContainerException($"cannot launch the step: {e.Message}"));
            _running.TrySetException(new ContainerException($"cannot launch the step: {e.Message}"));
            _state.Record(s => s with { StopReason = $"the step could not be launched: {e.Message}" });
            return 127;
        }
        await using (nodes)
        using (step)
        using (_terminalRelay)
        {
            _step = step;
            if (_terminalRelay is { } relay)
            {
                relay.Resized += step.TerminalResized;
                relay.Start(holdResizes: step.ResizeBreaksEarlyStep);
            }
            _launched.TrySetResult();
            var exit = step.WaitForExitAsync();
            if (nodes is not null && await StartFailureAsync(nodes, exit) is { } failure)
            {
                _running.TrySetException(new ContainerException(failure));
                if (!exit.IsCompleted)
                {
                    await KillStepThroughSlurmAsync();
                }
            }
            else
            {
                _nodes = nodes;
                _state.Record(s => s with { Status = ContainerStatus.Running });
                _running.TrySetResult();
                _ = nodes?.Exited.ContinueWith(exited => step.ExitedOnNodes(exited.Result), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }
            var exitCode = await exit;
            _nodes = null;
            _terminalRelay?.Drain(TimeSpan.FromSeconds(5));
            // SIGKILL cannot be caught: whatever the launcher makes of the killed step, the container died of it.
            return _sigkilled ? 128 + 9 : exitCode;
        }
    }

    /// <summary>
    /// With <c>scrun node-run</c> on the nodes, the container runs once they say so; null then,
    /// else why it never will. A node's task ends only after the anchor has its report, so a
    /// step that ends first had no node to report.
    /// </summary>
    private static async Task<string?> StartFailureAsync(NodeControlChannel nodes, Task<int> exit)
    {
        // node-run says hello before anything else: silence means the nodes run something else.
        await Task.WhenAny(nodes.Connected, exit, Task.Delay(s_nodeHelloPatience));
        if (!nodes.Connected.IsCompleted && !exit.IsCompleted)
        {
            return $"no word from scrun node-run on the job's node(s) in {s_nodeHelloPatience.TotalSeconds} s: does oci.conf's RunTimeRun on the nodes run it, as the oci.conf scrun reads here says?";
        }
        await Task.WhenAny(nodes.Started, exit);
        if (nodes.Started.IsCompleted)
        {
            return nodes.Started.Result is NodeMessage.Failed failed ? $"the container could not start on its node: {failed.Message}" : null;
        }
        return $"the container's step ended (exit code {exit.Result}) before scrun node-run reported from its node";
    }

    private async Task KillStepThroughSlurmAsync()
    {
        try
        {
            await SignalOnNodeAsync(9, throughSlurm: true);
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Warning("container {Id}: its step could not be killed: {Reason}", _launch.Id, e.Message);
        }
    }

    /// <summary>The job's cluster's oci.conf, read once for the container's life.</summary>
    private OciConfig OciConfigOf(SlurmController slurm) => _ociConfig ??= OciConfig.LoadBeside(slurm.Config);

    /// <summary>The channel to <c>scrun node-run</c> on the nodes, when oci.conf's RunTimeRun runs it.</summary>
    private NodeControlChannel? OpenNodeControl()
    {
        var slurm = _job!.Controller;
        return OciConfigOf(slurm).RunsNodeRun
            ? NodeControlChannel.Open(slurm.Config, (int)(_job.Placement?.NodeCount ?? 1), _log)
            : null;
    }

    private StepLaunch StepLaunch()
    {
        var slurm = _job!.Controller;
        var staged = _staged ?? throw new ContainerException("the bundle was not staged");
        var options = JobOptions.From(_variables, _config.Env);
        return new StepLaunch(
            JobId: _state.Current.JobId ?? throw new ContainerException("no job to run the container in"),
            JobName: options.Variables.GetValueOrDefault("SCRUN_JOB_NAME") ?? "scrun",
            ContainerId: _launch.Id,
            Bundle: staged.NodeBundle,
            Terminal: _terminalRelay?.StepTerminal,
            StepArguments: options.StepArguments(),
            Args: [CommandPath.InImage(staged.RootPath, _config.Args[0], _config.Env), .. _config.Args.Skip(1)],
            Environment: _containerEnvironment.ForStep(staged, slurm.Config.Path),
            WorkingDirectory: staged.NodeBundle,
            Protocol: slurm.Version)
        {
            Placement = _job.Placement,
        };
    }

    /// <summary>The launcher <see cref="StepLauncherChoice"/> picks for this job's cluster, and why, in the log.</summary>
    private IStepRunner ChooseStepRunner(SlurmController slurm)
    {
        var oci = OciConfigOf(slurm);
        var setting = JobOptions.From(_variables, _config.Env).StepLauncher;
        var choice = LauncherChoice;
        _log.Debug("container {Id}: step launcher {Launcher} ({Why})", _launch.Id, choice.Native ? "native" : "srun", choice.Why);
        if (!choice.Native)
        {
            return new SrunStepRunner(oci, _log);
        }
        var native = new NativeStepRunner(slurm, _log);
        // srun cannot stand in inside a rootless engine's namespace (see RefuseSrunInUserNamespace).
        return setting is null && !UserNamespace.UidDiffersOutside()
            ? new FallbackStepRunner(native, async () =>
            {
                await ReleaseLeaseAsync();
                return new SrunStepRunner(oci, _log);
            }, line => _log.Information("container {Id}: {Line}", _launch.Id, line))
            : native;
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
                        _state.Record(s => s with { StopReason = $"job {s.JobId} reached its time limit" });
                        break;
                    case SrunNodeFail fail:
                        _state.Record(s => s with { StopReason = $"job {s.JobId} lost node(s) {fail.Nodes}" });
                        _step?.JobEnded($"node(s) {fail.Nodes} failed");
                        break;
                    case SrunUserMessage message:
                        _stderr.Write($"scrun: {message.Message}\n");
                        break;
                    case SrunJobComplete:
                        Abort(128 + 9, "its job ended");
                        _step?.JobEnded("its job ended");
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
