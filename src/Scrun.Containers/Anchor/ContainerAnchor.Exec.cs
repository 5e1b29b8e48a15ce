using Scrun.Containers.Control;
using Scrun.Containers.NodeCommands;
using Scrun.Containers.Interop;
using Scrun.Slurm;
using Scrun.Slurm.Config;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Steps;
using static Scrun.Containers.Anchor.AnchorEvent;

namespace Scrun.Containers.Anchor;

/// <summary>
/// exec, pause and resume: the node's runtime (oci.conf's RunTimeQuery) runs its verb of the
/// same name as the task of an overlapping step on the container's node, launched the way the
/// container's step was (natively, or with srun).
/// </summary>
public sealed partial class ContainerAnchor
{
    /// <summary>How long the execs still running are given to end with the job.</summary>
    private static readonly TimeSpan s_execsEnd = TimeSpan.FromSeconds(10);

    /// <summary>How long an exec whose relay has gone is given to end once killed.</summary>
    private static readonly TimeSpan s_execKilled = TimeSpan.FromSeconds(30);

    private readonly List<Task> _execs = [];
    private int _thawing;

    /// <summary>An exec's whole exchange with its relay: refused at once, or carried out by <see cref="RunExecAsync"/>.</summary>
    private async Task ServeExecAsync(ExecConnection exec, CancellationToken stopping)
    {
        var answer = await RequestAsync(new Exec(exec));
        if (!answer.Ok)
        {
            await exec.SendAsync(answer);
            return;
        }
        try
        {
            await exec.Finished.WaitAsync(stopping);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void StartExec(ExecConnection exec, TaskCompletionSource<ControlResponse>? reply)
    {
        // One exec's failure is its own: the container and its other execs go on.
        var running = Task.Run(async () =>
        {
            try
            {
                await RunExecAsync(exec, reply);
            }
            catch (Exception e)
            {
                _log.Error("container {Id}: an exec failed unexpectedly: {Failure}", Id, e);
                reply?.TrySetResult(new ControlResponse { Error = $"cannot exec in container \"{Id}\": {e.Message}", State = _state.Current });
            }
            finally
            {
                exec.Finish();
            }
        });
        lock (_execs)
        {
            _execs.RemoveAll(task => task.IsCompleted);
            _execs.Add(running);
        }
    }

    /// <summary>
    /// Starts the process on the node, tells the relay, passes it the relay's signals and
    /// resizes, and tells it the exit code. A relay that goes away (killed) takes the process
    /// with it.
    /// </summary>
    private async Task RunExecAsync(ExecConnection exec, TaskCompletionSource<ControlResponse>? reply)
    {
        var stdio = exec.TakeStdio();
        INodeTask task;
        try
        {
            if (stdio is null)
            {
                throw new ContainerException("its stdio did not come with the request");
            }
            if (exec.Request.Process is not { Length: > 0 } process)
            {
                throw new ContainerException("the request names no process");
            }
            var (command, launcher) = NodeCommandFor((runtime, where) => runtime.ExecCommand(where, process), "scrun-exec");
            var handed = stdio;
            stdio = null; // the launcher's now, whether or not it starts
            task = await launcher.StartAsync(command, handed, CancellationToken.None);
        }
        catch (Exception e) when (IsExpected(e))
        {
            stdio?.Close();
            _log.Warning("container {Id}: exec failed: {Reason}", Id, e.Message);
            reply?.TrySetResult(Failure($"cannot exec in container \"{Id}\": {e.Message}", e));
            exec.Finish();
            return;
        }
        await exec.SendAsync(new ControlResponse { Ok = true, State = _state.Current });
        reply?.TrySetResult(new ControlResponse { Ok = true });
        using var relayGone = new CancellationTokenSource();
        var requests = PassRelayRequestsAsync(exec, task, relayGone.Token);
        if (await Task.WhenAny(task.Completion, requests) == requests)
        {
            _log.Debug("container {Id}: an exec's relay went away: its process is killed", Id);
            await TrySignalAsync(task, Signal.Kill);
        }
        int exitCode;
        try
        {
            exitCode = await task.Completion.WaitAsync(s_execKilled);
        }
        catch (TimeoutException)
        {
            exitCode = Signal.Kill.ExitCode;
        }
        await relayGone.CancelAsync();
        await exec.SendAsync(new ControlResponse { Ok = true, ExitCode = exitCode });
        task.Dispose();
        exec.Finish();
    }

    private async Task PassRelayRequestsAsync(ExecConnection exec, INodeTask task, CancellationToken cancellation)
    {
        await foreach (var request in exec.ReadRequestsAsync(cancellation))
        {
            switch (request.Op)
            {
                case ControlOperation.Kill:
                    await TrySignalAsync(task, request.Signal);
                    break;
                case ControlOperation.Resize:
                    task.Resized();
                    break;
            }
        }
    }

    private async Task TrySignalAsync(INodeTask task, Signal signal)
    {
        try
        {
            await task.SignalAsync(signal);
        }
        catch (Exception e) when (IsExpected(e))
        {
            _log.Warning("container {Id}: signal {Signal} to an exec: {Reason}", Id, signal, e.Message);
        }
    }

    /// <summary>The execs still running end with the job (its steps are Slurm's to kill): their relays hear their exit codes.</summary>
    private async Task ExecsEndedAsync()
    {
        Task[] running;
        lock (_execs)
        {
            running = [.. _execs];
        }
        try
        {
            await Task.WhenAll(running).WaitAsync(s_execsEnd);
        }
        catch (TimeoutException)
        {
            _log.Warning("container {Id}: {Count} exec(s) did not end with the job", Id, running.Count(task => !task.IsCompleted));
        }
    }

    private void StartFreeze(TaskCompletionSource<ControlResponse>? reply) => Spawn(async () =>
    {
        if (await RunOnNodeAsync((runtime, where) => runtime.PauseCommand(where), "scrun-pause") is { } failure)
        {
            reply?.TrySetResult(new ControlResponse { Error = $"cannot pause container \"{Id}\": {failure}", State = _state.Current });
            return;
        }
        Notify(new Frozen());
        var status = await WaitUntilAsync(s => s != ContainerStatus.Running);
        reply?.TrySetResult(status == ContainerStatus.Paused ? Reply() : new ControlResponse { Error = $"container \"{Id}\" stopped while it was being paused", State = _state.Current });
    });

    /// <summary>Thaws the container (one thaw at a time: what waits for it is taken again once it is done).</summary>
    private void StartThaw(TaskCompletionSource<ControlResponse>? reply)
    {
        if (Interlocked.Exchange(ref _thawing, 1) == 1 && reply is null)
        {
            return;
        }
        Spawn(async () =>
        {
            var failure = await RunOnNodeAsync((runtime, where) => runtime.ResumeCommand(where), "scrun-resume");
            Interlocked.Exchange(ref _thawing, 0);
            if (failure is not null)
            {
                reply?.TrySetResult(new ControlResponse { Error = $"cannot resume container \"{Id}\": {failure}", State = _state.Current });
                Notify(new ThawFailed(failure));
                return;
            }
            Notify(new Thawed());
            await WaitUntilAsync(s => s != ContainerStatus.Paused);
            reply?.TrySetResult(Reply());
        });
    }

    /// <summary>A kill or delete that waited for a thaw that failed is refused: the container is still paused.</summary>
    private void RefuseWaiting(string reason)
    {
        foreach (var waiting in _deferred.Where(p => p.Event is Kill or Delete).ToList())
        {
            _deferred.Remove(waiting);
            waiting.Reply?.TrySetResult(new ControlResponse { Error = $"container \"{Id}\" is paused and could not be thawed: {reason}", State = _state.Current });
        }
    }

    /// <summary>Runs a command of the node's runtime whose output is its error; null when it succeeded.</summary>
    private async Task<string?> RunOnNodeAsync(Func<NodeRuntime, NodeContainer, IReadOnlyList<string>> build, string name)
    {
        var (read, write) = (-1, -1);
        try
        {
            var (command, launcher) = NodeCommandFor(build, name);
            (read, write) = LibC.Pipe();
            var input = LibC.open("/dev/null", LibC.ORdwr | LibC.OCloexec);
            var stdio = new NodeTaskStdio(input, write, LibC.DuplicateCloseOnExec(write), Terminal: false);
            write = -1; // the launcher's now
            using var task = await launcher.StartAsync(command, stdio, CancellationToken.None);
            var output = Task.Run(() => new StreamReader(new DescriptorStream(read)).ReadToEnd());
            var exitCode = await task.Completion;
            var text = await output.WaitAsync(TimeSpan.FromSeconds(5));
            _log.Debug("container {Id}: {Name} exited {ExitCode}: {Output}", Id, name, exitCode, text.Trim());
            return exitCode == 0 ? null : RuntimeError.Describe(text, exitCode);
        }
        catch (Exception e) when (IsExpected(e))
        {
            return e.Message;
        }
        finally
        {
            if (read >= 0)
            {
                LibC.close(read);
            }
            if (write >= 0)
            {
                LibC.close(write);
            }
        }
    }

    /// <summary>The command for the container's node (the first of its job's), and the launcher that runs it as the container's step was run.</summary>
    private (NodeCommand Command, INodeCommandLauncher Launcher) NodeCommandFor(Func<NodeRuntime, NodeContainer, IReadOnlyList<string>> build, string name)
    {
        var job = _job ?? throw new ContainerException("the container has no job");
        var jobId = _state.Current.JobId ?? throw new ContainerException("the container has no job");
        var placement = job.Placement ?? throw new ContainerException("the job's nodes are not known");
        var runtime = NodeRuntime.From(_plan.Oci);
        var node = HostList.Expand(placement.Allocation.NodeList).FirstOrDefault() ?? throw new ContainerException("the job's nodes are not known");
        var owner = JobOwner.Resolve(placement.UserId, placement.GroupId);
        var where = new NodeContainer(node, owner.UserName, placement.UserId, jobId, _step?.Step.StepNumber);
        var native = _step?.Step.Can.NameTheirStep ?? true;
        return (new NodeCommand(jobId, node, name, build(runtime, where), placement), _nodeLauncher(job.Controller, native));
    }

    private INodeCommandLauncher DefaultNodeLauncher(SlurmController slurm, bool native) =>
        native ? new NativeNodeCommandLauncher(slurm, _log) : new SrunNodeCommandLauncher(_plan.Oci, slurm.Config.Path);
}
