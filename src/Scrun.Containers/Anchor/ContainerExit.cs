using Scrun.Slurm.Interop;

namespace Scrun.Containers.Anchor;

/// <summary>How long the anchor waits for Slurm's word on a step once another word has come.</summary>
/// <param name="AfterNodesReport">After scrun node-run reported the container's exit, for slurmstepd's exit message.</param>
/// <param name="AfterJobEnd">After slurmctld said the job or a node ended, for the step's exit.</param>
internal sealed record ExitPatience(TimeSpan AfterNodesReport, TimeSpan AfterJobEnd)
{
    public static readonly ExitPatience Default = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30));
}

/// <summary>
/// The container's exit code, decided in one place from whatever reports come: the step's end as
/// its launcher saw it (slurmstepd's exit message), scrun node-run's report from the nodes, the
/// job's end, and a KILL scrun sent. Slurm's word stands when it comes; the nodes' report stands
/// when slurmstepd's is lost (MUNGE down on the node); a step whose job ended and that hears
/// nothing more is lost; a container scrun sent KILL died of it, whatever its launcher makes of it.
/// </summary>
internal sealed class ContainerExit(IStep step, ExitPatience patience, Action<string> log)
{
    private int _killed;

    /// <summary>A KILL is on its way to the container (taken back with <see cref="KillFailed"/>).</summary>
    public void KillSent() => Interlocked.Exchange(ref _killed, 1);

    /// <summary>The KILL could not be sent: the container's own exit stands.</summary>
    public void KillFailed() => Interlocked.Exchange(ref _killed, 0);

    /// <summary>scrun node-run says the container exited on every node with <paramref name="exitCode"/>.</summary>
    public void NodesReported(int exitCode)
    {
        if (step.Can.EndOnTheNodesWord)
        {
            _ = UnlessEndedAfterAsync(patience.AfterNodesReport, () =>
            {
                log($"no exit message from slurmstepd {patience.AfterNodesReport.TotalSeconds:0} s after the nodes reported the container's exit (exit code {exitCode}): that exit stands");
                step.Conclude(exitCode);
            });
        }
    }

    /// <summary>slurmctld says the job or a node of it is gone.</summary>
    public void JobEnded(string why)
    {
        if (!step.Can.LearnTheJobsEnd)
        {
            _ = UnlessEndedAfterAsync(patience.AfterJobEnd, () => step.GiveUp(why));
        }
    }

    /// <summary>The container's exit code, once the step has ended.</summary>
    public async Task<int> DecideAsync()
    {
        var exitCode = await step.Completion;
        return Volatile.Read(ref _killed) == 1 ? Signal.Kill.ExitCode : exitCode;
    }

    private async Task UnlessEndedAfterAsync(TimeSpan wait, Action end)
    {
        if (await Task.WhenAny(step.Completion, Task.Delay(wait)) != step.Completion)
        {
            end();
        }
    }
}
