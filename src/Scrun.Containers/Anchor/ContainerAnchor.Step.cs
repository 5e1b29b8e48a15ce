using Scrun.Containers.NodeControl;
using Scrun.Containers.Oci;
using Scrun.Slurm;
using static Scrun.Containers.Anchor.AnchorEvent;

namespace Scrun.Containers.Anchor;

/// <summary>A launched step, with the channel to its nodes' scrun node-run (when they run it) and what decides its exit code.</summary>
internal sealed record RunningStep(IStep Step, NodeControlChannel? Nodes, ContainerExit Exit);

/// <summary>The step: launched once start is asked for, its exit the container's; the wind-down after it.</summary>
public sealed partial class ContainerAnchor
{
    /// <summary>How long a launched step's scrun node-run is given to say hello before the nodes are taken to run something else.</summary>
    private static readonly TimeSpan s_nodeHelloPatience = TimeSpan.FromSeconds(60);

    /// <summary>How long the container's terminal output may trail its step's end.</summary>
    private static readonly TimeSpan s_terminalDrain = TimeSpan.FromSeconds(5);

    private StepLauncherChoice? _launcherChoice;

    /// <summary>Launches the step: <see cref="Launched"/> or <see cref="LaunchFailed"/>.</summary>
    private async Task LaunchAsync()
    {
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
            var step = await _launcher(_job!.Controller).StartAsync(launch, CancellationToken.None);
            Notify(new Launched(new RunningStep(step, nodes, new ContainerExit(step, _patience, line => _log.Information("container {Id}: {Line}", Id, line)))));
        }
        catch (Exception e) when (e is ContainerException or IOException or InvalidOperationException or SlurmClientException or System.Net.Sockets.SocketException)
        {
            if (nodes is not null)
            {
                await nodes.DisposeAsync();
            }
            Notify(new LaunchFailed(e.Message));
        }
    }

    /// <summary>The launched step's terminal, exit and nodes are taken in; without scrun node-run, the container runs now.</summary>
    private void Attach(RunningStep running)
    {
        _step = running;
        var step = running.Step;
        if (_terminalRelay is { } relay)
        {
            if (!step.Can.LearnResizes)
            {
                relay.Resized += step.TerminalResized;
            }
            relay.Start(holdResizes: step.Can.BreakOnEarlyResize);
        }
        if (running.Nodes is { } nodes)
        {
            Spawn(() => AwaitContainerAsync(nodes, step.Completion));
            _ = nodes.Exited.ContinueWith(exited => running.Exit.NodesReported(exited.Result), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
        else
        {
            Notify(new AnchorEvent.Running()); // before the step's end can be: the launch is all there is to hear
        }
        Spawn(async () => Notify(new StepExited(await running.Exit.DecideAsync())));
    }

    /// <summary>
    /// With <c>scrun node-run</c> on the nodes, the container runs once they say so. A node's task
    /// ends only after the anchor has its report, so a step that ends first had no node to report
    /// (its <see cref="StepExited"/> says so).
    /// </summary>
    private async Task AwaitContainerAsync(NodeControlChannel nodes, Task<int> exit)
    {
        // node-run says hello before anything else: silence means the nodes run something else.
        await Task.WhenAny(nodes.Connected, exit, Task.Delay(s_nodeHelloPatience));
        if (exit.IsCompleted)
        {
            return;
        }
        if (!nodes.Connected.IsCompleted)
        {
            Notify(new StartFailed($"no word from scrun node-run on the job's node(s) in {s_nodeHelloPatience.TotalSeconds} s: does oci.conf's RunTimeRun on the nodes run it, as the oci.conf scrun reads here says?"));
            return;
        }
        await Task.WhenAny(nodes.Started, exit);
        if (!nodes.Started.IsCompleted)
        {
            return;
        }
        Notify(nodes.Started.Result is NodeMessage.Failed failed
            ? new StartFailed($"the container could not start on its node: {failed.Message}")
            : new AnchorEvent.Running());
    }

    /// <summary>After the step (or instead of it): the terminal drained, stage-out, the lease released, the job ended.</summary>
    private async Task WindDownAsync(int exitCode, bool cancelJob)
    {
        if (_step is { } step)
        {
            _terminalRelay?.Drain(s_terminalDrain);
            if (step.Nodes is not null)
            {
                await step.Nodes.DisposeAsync();
            }
            step.Step.Dispose();
        }
        _terminalRelay?.Dispose();
        await StageOutAsync();
        await ReleaseLeaseAsync();
        var ended = await EndJobAsync(cancelJob ? null : exitCode);
        await ExecsEndedAsync();
        if (_job is not null)
        {
            await _job.DisposeAsync();
        }
        await _callbacks;
        if (_state.Current.StopReason is { } stopReason)
        {
            _stderr.Write($"scrun: error: container {Id}: {stopReason}\n");
        }
        if (ended is not null)
        {
            _stderr.Write($"scrun: error: container {Id}: job {_job!.JobId} could not be ended ({ended}); it is ended once slurmctld and munged answer, or by 'scrun delete {Id}'\n");
        }
        Notify(new Released(exitCode, ended));
    }

    /// <summary>The channel to <c>scrun node-run</c> on the nodes, when oci.conf's RunTimeRun runs it.</summary>
    private NodeControlChannel? OpenNodeControl() =>
        _plan.Oci.RunsNodeRun ? NodeControlChannel.Open(_job!.Controller.Config, (int)(_job.Placement?.NodeCount ?? 1), _log) : null;

    private StepLaunch StepLaunch()
    {
        var slurm = _job!.Controller;
        var staged = _staged ?? throw new ContainerException("the bundle was not staged");
        var options = _plan.Job;
        return new StepLaunch(
            JobId: _state.Current.JobId ?? throw new ContainerException("no job to run the container in"),
            JobName: options.JobName,
            ContainerId: Id,
            Bundle: staged.NodeBundle,
            Terminal: _terminalRelay?.StepTerminal,
            StepArguments: options.StepArguments,
            Args: [CommandPath.InImage(staged.RootPath, _config.Args[0], _config.Env), .. _config.Args.Skip(1)],
            Environment: _environment.ForStep(staged, slurm.Config.Path),
            WorkingDirectory: staged.NodeBundle,
            Protocol: slurm.Version)
        {
            Placement = _job.Placement,
        };
    }

    /// <summary>The launcher the plan's policy chose once the controller's release was known.</summary>
    private IStepLauncher ChooseLauncher(SlurmController slurm)
    {
        var choice = _launcherChoice ?? throw new InvalidOperationException("the launcher is chosen at creation");
        if (!choice.Native)
        {
            return new SrunStepLauncher(_plan.Oci, _log);
        }
        var native = new NativeStepLauncher(slurm, _log);
        // srun cannot stand in inside a rootless engine's namespace (see StepLauncherChoice.EnsureUsableHere).
        return _plan.Launcher.FallsBackToSrun
            ? new FallbackStepLauncher(native, async () =>
            {
                await ReleaseLeaseAsync();
                return new SrunStepLauncher(_plan.Oci, _log);
            }, line => _log.Information("container {Id}: {Line}", Id, line))
            : native;
    }
}
