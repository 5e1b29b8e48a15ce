using System.Net.Sockets;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Steps;

/// <summary>The response port: slurmstepd reports each node's launch and its tasks' exit, one connection per message.</summary>
public sealed partial class StepSession
{
    private readonly Lock _exitGate = new();
    private readonly uint?[] _taskStatus;
    private Task? _finishing;

    private async Task HandleResponseAsync(Socket connection)
    {
        using (connection)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            deadline.CancelAfter(_controller.Config.MessageTimeout);
            try
            {
                if (await SlurmTransport.ReadFrameAsync(connection, deadline.Token) is not { } message)
                {
                    return;
                }
                if (_incoming.Verify(message) is { } reason)
                {
                    _log($"step {Step}: refused a message from {IncomingMessages.SafeRemote(connection)}: {reason}");
                    return;
                }
                var reader = new SlurmReader(message.Body);
                switch (message.Type)
                {
                    case MessageType.ResponseLaunchTasks:
                        var launched = LaunchTasksResponse.ReadBody(ref reader, message.Version);
                        reader.EnsureConsumed(message.Type.ToString());
                        await _incoming.ReplyAsync(connection, message.Version, 0, deadline.Token);
                        OnLaunched(launched);
                        break;
                    case MessageType.MessageTaskExit:
                        var exited = TaskExitMessage.ReadBody(ref reader, message.Version);
                        reader.EnsureConsumed(message.Type.ToString());
                        await _incoming.ReplyAsync(connection, message.Version, 0, deadline.Token);
                        OnExited(exited.TaskIds, exited.WaitStatus);
                        break;
                    default:
                        await _incoming.ReplyAsync(connection, message.Version, SlurmErrors.UnexpectedMessage, deadline.Token);
                        break;
                }
            }
            catch (Exception e) when (e is SlurmClientException or SocketException or OperationCanceledException or IOException)
            {
                _log($"step {Step}: a message on the response port failed: {e.Message}");
            }
        }
    }

    private void OnLaunched(LaunchTasksResponse launched)
    {
        if (launched.ReturnCode == 0)
        {
            _log($"step {Step}: tasks {string.Join(',', launched.TaskIds)} started on {launched.NodeName}");
            return;
        }
        WriteError($"scrun: error: {launched.NodeName}: the container's task could not start: {SlurmErrors.Message(launched.ReturnCode)}\n");
        OnExited(launched.TaskIds, 1 << 8);
    }

    private void OnExited(IEnumerable<uint> taskIds, uint waitStatus)
    {
        bool allExited;
        lock (_exitGate)
        {
            foreach (var task in taskIds.Where(t => t < _taskStatus.Length))
            {
                _taskStatus[task] ??= waitStatus;
            }
            allExited = _taskStatus.All(s => s is not null);
            if (allExited && _finishing is null)
            {
                _log($"step {Step}: every task has exited");
                _finishing = FinishAsync();
            }
        }
    }

    /// <summary>After the last exit: the output still on its way is given a few seconds, then the step is over.</summary>
    private async Task FinishAsync()
    {
        var drained = await Task.WhenAny(_outputDone.Task, Task.Delay(s_outputDrain, _stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default)) == _outputDone.Task;
        if (!drained)
        {
            _log($"step {Step}: its output did not end within {s_outputDrain.TotalSeconds:0} s of its tasks' exit");
        }
        CloseConnections();
        int exitCode;
        lock (_exitGate)
        {
            exitCode = _taskStatus.Max(s => new TaskExitMessage(s ?? 0, [], Step).ExitCode);
        }
        _completion.TrySetResult(exitCode);
    }

    /// <summary>
    /// Ends the step with <paramref name="exitCode"/> for the tasks whose exit slurmstepd has not
    /// reported (someone else heard it: the nodes' runtime wrapper, when slurmstepd cannot sign
    /// its message); nothing when the step is ending already.
    /// </summary>
    public void Conclude(int exitCode)
    {
        lock (_exitGate)
        {
            if (_finishing is not null)
            {
                return;
            }
            _log($"step {Step}: ends with exit code {exitCode}, reported by its nodes, without slurmstepd's word");
            for (var task = 0; task < _taskStatus.Length; task++)
            {
                _taskStatus[task] ??= TaskExitMessage.WaitStatusOf(exitCode);
            }
            _finishing = FinishAsync();
        }
    }

    /// <summary>The step is lost (its job or a node of it is gone): it ends now, as failed, unless it is ending already.</summary>
    public void GiveUp(string why) => _ = GiveUpUnlessExitedAsync(why, TimeSpan.Zero);

    /// <summary>The step's I/O broke off: unless its tasks' exit comes soon, the step is taken as lost.</summary>
    private async Task GiveUpUnlessExitedAsync(string why, TimeSpan? grace = null)
    {
        try
        {
            await Task.Delay(grace ?? _request.LostStepGrace, _stopping.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            return; // the session is over
        }
        lock (_exitGate)
        {
            if (_finishing is not null)
            {
                return;
            }
            _finishing = Task.CompletedTask;
        }
        WriteError($"scrun: error: lost step {Step}: {why}\n");
        CloseConnections();
        _completion.TrySetResult(1);
    }
}
