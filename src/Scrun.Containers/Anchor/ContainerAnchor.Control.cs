using Scrun.Containers.Control;
using Scrun.Slurm;
using Scrun.Slurm.Interop;
using static Scrun.Containers.Anchor.AnchorEvent;

namespace Scrun.Containers.Anchor;

/// <summary>The effects of the table's transitions, and the answers to the CLI's requests.</summary>
public sealed partial class ContainerAnchor
{
    /// <summary>How often a KILL is sent again until the container has stopped.</summary>
    private static readonly TimeSpan s_killRepeat = TimeSpan.FromSeconds(2);

    private int _killRepeater;

    private void Effect(AnchorEffect effect, Pending pending, ContainerStatus from)
    {
        var anchorEvent = pending.Event;
        switch (effect)
        {
            case AnchorEffect.Report:
                if (!_report.Send(Reply()))
                {
                    Notify(new CreationFailed("create was interrupted before it heard the container was created"));
                }
                break;
            case AnchorEffect.AbortCreation:
                if (anchorEvent is CreatorGone)
                {
                    _interruption ??= "create was interrupted before the container was created";
                }
                _log.Debug("container {Id} ends before starting: {Why}", Id, anchorEvent.GetType().Name);
                _creation.Cancel();
                break;
            case AnchorEffect.UndoCreation:
                _failure ??= anchorEvent is CreationFailed failed ? failed.Reason : _interruption ?? "the container was stopped before it was created";
                Spawn(UndoCreationAsync);
                break;
            case AnchorEffect.Launch:
                Spawn(LaunchAsync);
                break;
            case AnchorEffect.Attach:
                Attach(((Launched)anchorEvent).Step);
                break;
            case AnchorEffect.SignalContainer:
                Spawn(() => SignalContainerAsync(((Kill)anchorEvent).Signal, pending.Reply));
                return;
            case AnchorEffect.StartExec:
                StartExec(((Exec)anchorEvent).Connection, pending.Reply);
                return;
            case AnchorEffect.Freeze:
                StartFreeze(pending.Reply);
                return;
            case AnchorEffect.Thaw:
                StartThaw(pending.Reply);
                return;
            case AnchorEffect.RefuseWaiting:
                RefuseWaiting(((ThawFailed)anchorEvent).Reason);
                break;
            case AnchorEffect.KillStep:
                Spawn(() => KillStepAsync(anchorEvent, pending.Reply));
                return;
            case AnchorEffect.AbandonStep:
                _step!.Exit.JobEnded(anchorEvent is NodesFailed lost ? $"node(s) {lost.Nodes} failed" : ((JobEnded)anchorEvent).Why);
                break;
            case AnchorEffect.WindDown:
                var exitCode = ExitCodeOf(anchorEvent, from) ?? Signal.Kill.ExitCode;
                _state.Record(s => s with { ExitCode = exitCode });
                var cancelJob = from == ContainerStatus.Created; // killed or deleted while created: cancelled, as scancel would
                Spawn(() => WindDownAsync(exitCode, cancelJob));
                break;
            case AnchorEffect.CancelLeftJob:
                Spawn(() => CancelLeftJobAsync(pending.Reply));
                return;
            case AnchorEffect.Finish:
                Finish((Released)anchorEvent);
                break;
        }
        Answer(pending, _state.Current.Status, effect);
    }

    /// <summary>The answer to a request whose effect does not answer it itself.</summary>
    private void Answer(Pending pending, ContainerStatus status, AnchorEffect effect)
    {
        if (pending.Reply is not { } reply)
        {
            return;
        }
        if (effect == AnchorEffect.Refuse)
        {
            reply.TrySetResult(ControlResponse.Refused(Refusal(status, pending.Event), _state.Current));
            return;
        }
        switch (pending.Event)
        {
            case Start:
                _ = ReplyOnceStartedAsync(reply);
                break;
            case Delete:
                _ = ReplyOnceStoppedAsync(reply);
                break;
            default:
                reply.TrySetResult(Reply());
                break;
        }
    }

    private ContainerException Refusal(ContainerStatus status, AnchorEvent request) => request switch
    {
        Start => status.StartRefusal(Id),
        Kill => status.KillRefusal(Id),
        Delete => status.DeleteRefusal(Id),
        Exec => status.ExecRefusal(Id),
        Pause => status.PauseRefusal(Id),
        Resume => status.ResumeRefusal(Id),
        _ => new ContainerException($"container \"{Id}\" cannot do that now", ContainerErrorKind.WrongStatus),
    };

    private async Task ReplyOnceStartedAsync(TaskCompletionSource<ControlResponse> reply)
    {
        var status = await WaitUntilAsync(s => s is not (ContainerStatus.Created or ContainerStatus.Starting));
        reply.TrySetResult(status == ContainerStatus.Running
            ? Reply()
            : new ControlResponse { Error = _startFailure ?? $"container \"{Id}\" stopped before it started", State = _state.Current });
    }

    /// <summary>Deleted, whatever stopped it: a creation that failed is create's error, not delete's.</summary>
    private async Task ReplyOnceStoppedAsync(TaskCompletionSource<ControlResponse> reply)
    {
        await WaitUntilAsync(s => s == ContainerStatus.Stopped);
        reply.TrySetResult(new ControlResponse { Ok = true, State = _state.Current });
    }

    /// <summary>Through <c>scrun node-run</c> to the container's process alone when the nodes run it; else Slurm signals the step.</summary>
    private async Task SignalContainerAsync(Signal signal, TaskCompletionSource<ControlResponse>? reply)
    {
        var step = _step!;
        if (signal == Signal.Kill)
        {
            step.Exit.KillSent();
        }
        try
        {
            await SignalOnNodeAsync(signal);
        }
        catch (Exception e) when (IsExpected(e))
        {
            reply?.TrySetResult(Failure($"cannot kill container \"{Id}\": {e.Message}", e));
            return;
        }
        if (signal == Signal.Kill)
        {
            _ = RepeatKillUntilStoppedAsync();
        }
        reply?.TrySetResult(Reply());
    }

    /// <summary>
    /// The whole step, through slurmctld, whatever runs in it: a KILL before the container runs,
    /// delete's (which must fail while Slurm cannot be asked, since the job could not be ended
    /// after it), and a container that will never start.
    /// </summary>
    private async Task KillStepAsync(AnchorEvent cause, TaskCompletionSource<ControlResponse>? reply)
    {
        var step = _step!;
        var killsContainer = cause is not StartFailed;
        if (killsContainer)
        {
            step.Exit.KillSent();
        }
        try
        {
            await SignalOnNodeAsync(Signal.Kill, throughSlurm: true);
        }
        catch (Exception e) when (IsExpected(e))
        {
            step.Exit.KillFailed();
            _log.Warning("container {Id}: its step could not be killed: {Reason}", Id, e.Message);
            reply?.TrySetResult(cause is Delete
                ? Failure($"cannot delete container \"{Id}\": its step could not be killed ({e.Message})", e)
                : Failure($"cannot kill container \"{Id}\": {e.Message}", e));
            return;
        }
        if (killsContainer)
        {
            _ = RepeatKillUntilStoppedAsync();
        }
        if (reply is null)
        {
            return;
        }
        if (cause is Delete)
        {
            await ReplyOnceStoppedAsync(reply);
        }
        else
        {
            reply.TrySetResult(Reply());
        }
    }

    /// <summary>The first step of a job the anchor allocated is 0; in an allocation it joined, only the launcher knows.</summary>
    private async Task SignalOnNodeAsync(Signal signal, bool throughSlurm = false)
    {
        if (!throughSlurm && _step?.Nodes is { } nodes && await nodes.SignalAsync(signal))
        {
            return;
        }
        await _job!.SignalStepAsync(signal, _step?.Step.StepNumber ?? 0);
    }

    /// <summary>
    /// A KILL that reaches the node before its runtime has made the container is lost (oci.conf's
    /// RunTimeKill finds no container), and the container would run on: KILL, unlike other
    /// signals, can be sent again until the container has stopped.
    /// </summary>
    private async Task RepeatKillUntilStoppedAsync()
    {
        if (Interlocked.Exchange(ref _killRepeater, 1) == 1)
        {
            return;
        }
        var stopped = WaitUntilAsync(s => s is ContainerStatus.Stopping or ContainerStatus.Stopped);
        while (await Task.WhenAny(stopped, Task.Delay(s_killRepeat)) != stopped)
        {
            try
            {
                _log.Debug("container {Id}: still running after KILL, sending it again", Id);
                await SignalOnNodeAsync(Signal.Kill);
            }
            catch (Exception e) when (IsExpected(e))
            {
                return; // the step or the job is gone: nothing left to kill
            }
        }
    }

    /// <summary>A failed creation whose job could not be cancelled yet: delete tries now, for the caller.</summary>
    private async Task CancelLeftJobAsync(TaskCompletionSource<ControlResponse>? reply)
    {
        if (_failure is not null && _job is { Ended: false, JobId: { } job })
        {
            if (await EndJobAsync(null) is { } failure)
            {
                reply?.TrySetResult(new ControlResponse { Error = $"cannot delete container \"{Id}\": its job {job} could not be cancelled ({failure})", Kind = ContainerErrorKind.SlurmUnavailable, State = _state.Current });
                return;
            }
            await _cancelledByDelete.CancelAsync();
        }
        reply?.TrySetResult(new ControlResponse { Ok = true, State = _state.Current });
    }

    /// <summary>A failure to answer with, its kind from its cause (munged or slurmctld gone: the caller must not take it for "not running").</summary>
    private ControlResponse Failure(string message, Exception cause) => new()
    {
        Error = message,
        Kind = cause is SlurmClientException and not SlurmException ? ContainerErrorKind.SlurmUnavailable : cause is ContainerException c ? c.Kind : ContainerErrorKind.Failed,
        State = _state.Current,
    };
}
