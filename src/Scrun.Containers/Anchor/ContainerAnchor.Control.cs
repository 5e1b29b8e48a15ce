
namespace Scrun.Containers.Anchor;

/// <summary>The control socket's operations (state, start, kill, delete) and what they set off.</summary>
public sealed partial class ContainerAnchor
{
    /// <summary>
    /// Ends a container that is not running yet (deleted, killed, or its job gone);
    /// <paramref name="failure"/>, when given, is what a creation it interrupts fails with.
    /// </summary>
    private void Abort(int exitCode, string why, string? failure = null)
    {
        var aborted = _state.Under(s =>
        {
            if (s.Status >= ContainerStatus.Starting)
            {
                return false;
            }
            _abortExitCode ??= exitCode;
            _abortFailure ??= failure;
            return true;
        });
        if (aborted)
        {
            _log.Debug("container {Id} ends before starting: {Why}", _launch.Id, why);
            _abort.Cancel();
        }
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
            return new ControlResponse { Error = e.Message, ExitCode = e.ExitCode, State = _state.Current };
        }
        catch (Exception e) when (IsExpected(e) && e is not OperationCanceledException)
        {
            // The real cause (munged or slurmctld gone): the caller must not take it for "not running".
            return new ControlResponse { Error = $"cannot {request.Op} container \"{_launch.Id}\": {e.Message}", State = _state.Current };
        }
    }

    private async Task<ControlResponse> StartAsync(CancellationToken cancellation)
    {
        // A state that cannot be recorded fails the start, nothing else.
        _state.Update(s =>
        {
            s.Status.EnsureCanStart(_launch.Id);
            return s with { Status = ContainerStatus.Starting };
        });
        _startRequested.TrySetResult();
        await _running.Task.WaitAsync(cancellation);
        return Reply();
    }

    private async Task<ControlResponse> KillAsync(int signal)
    {
        var status = _state.Current.Status;
        status.EnsureCanKill(_launch.Id);
        if (status >= ContainerStatus.Starting)
        {
            await SignalStepAsync(signal);
        }
        else if (signal is not (17 or 18 or 23 or 28)) // SIGCHLD, SIGCONT, SIGURG, SIGWINCH: ignored by a process that has not started
        {
            Abort(128 + signal, $"signal {signal}");
        }
        return Reply();
    }

    /// <summary>The container's processes on the node get the signal (srun would cancel the step on SIGTERM).</summary>
    /// <param name="signal">The signal.</param>
    /// <param name="throughSlurm">
    /// Through slurmctld even when the nodes run <c>scrun node-run</c>: delete's KILL, which must
    /// fail while Slurm cannot be asked (munged down), since the job could not be ended after it.
    /// </param>
    private async Task SignalStepAsync(int signal, bool throughSlurm = false)
    {
        await _launched.Task;
        if (signal == 9)
        {
            _sigkilled = true;
        }
        // A KILL before the container runs (or that never will) takes the whole step, whatever runs in it.
        var wholeStep = throughSlurm || (signal == 9 && !_running.Task.IsCompletedSuccessfully);
        if (!wholeStep)
        {
            await WaitUntilRunningOrNotAsync();
        }
        await SignalOnNodeAsync(signal, throughSlurm: wholeStep);
        if (signal == 9 && Interlocked.Exchange(ref _killRepeater, 1) == 0)
        {
            _ = RepeatKillUntilStoppedAsync();
        }
    }

    /// <summary>A signal for the container waits for its process; a container that never ran has its step signalled instead.</summary>
    private async Task WaitUntilRunningOrNotAsync()
    {
        try
        {
            await _running.Task;
        }
        catch (ContainerException)
        {
        }
    }

    /// <summary>
    /// Through <c>scrun node-run</c> to the container's process alone when the nodes run it; else
    /// Slurm signals every process of the step. The first step of a job the anchor allocated is 0;
    /// in an allocation it joined, only the launcher knows.
    /// </summary>
    private async Task SignalOnNodeAsync(int signal, bool throughSlurm = false)
    {
        if (!throughSlurm && _nodes is { } nodes && await nodes.SignalAsync(new Slurm.Interop.Signal(signal)))
        {
            return;
        }
        await _job!.SignalStepAsync(signal, _step?.StepNumber ?? 0);
    }

    /// <summary>
    /// A KILL that reaches the node before its runtime has made the container is lost (oci.conf's
    /// RunTimeKill finds no container), and the container would run on: KILL, unlike other
    /// signals, can be sent again until the container has stopped.
    /// </summary>
    private async Task RepeatKillUntilStoppedAsync()
    {
        while (await Task.WhenAny(_stopped.Task, Task.Delay(s_killRepeat)) != _stopped.Task)
        {
            try
            {
                _log.Debug("container {Id}: still running after KILL, sending it again", _launch.Id);
                await SignalOnNodeAsync(9);
            }
            catch (Exception e) when (IsExpected(e))
            {
                return; // the step or the job is gone: nothing left to kill
            }
        }
    }

    private async Task<ControlResponse> DeleteAsync(bool force, CancellationToken cancellation)
    {
        var status = _state.Current.Status;
        status.EnsureCanDelete(_launch.Id, force);
        if (status is ContainerStatus.Starting or ContainerStatus.Running)
        {
            try
            {
                await SignalStepAsync(9, throughSlurm: true);
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
        return new ControlResponse { Ok = true, State = _state.Current };
    }

    private ControlResponse Reply() => new() { Ok = _failure is null, Error = _failure, State = _state.Current };
}
