using System.Diagnostics;
using Scrun.Containers.Interop;
using Scrun.Slurm.Interop;
using Serilog;

namespace Scrun.Containers;

/// <summary>
/// The watch over a container's anchor: a small process create starts first, in a session of
/// its own, that waits for the container's claim. The anchor holds the claim for its whole life,
/// so the guard gets it the moment the anchor is gone, however it went (SIGKILL, a crash, the
/// OOM killer): a job the anchor did not end is ended then, and state.json says stopped. A
/// container that ended as it should leaves the guard nothing to do.
/// </summary>
public static class ContainerGuard
{
    /// <summary>The hidden verb that runs a guard.</summary>
    public const string Verb = "__guard";

    /// <summary>How long one attempt rides out slurmctld's silence.</summary>
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(10);

    /// <summary>How long the guard keeps trying to end a job while slurmctld or munged do not answer.</summary>
    private static readonly TimeSpan s_giveUp = TimeSpan.FromDays(1);

    /// <summary>create's side: starts the guard of the container <paramref name="launch"/> creates, with none of create's descriptors.</summary>
    internal static void Start(LaunchContext launch)
    {
        var psi = launch.StartInfo(Verb);
        // Pipes of its own, not the caller's stdio: an engine reading create's output until its end must not wait for the guard.
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var guard = Process.Start(psi) ?? throw new InvalidOperationException("the guard did not start");
    }

    /// <summary>
    /// Waits for the container's claim, then ends the job its anchor left and records the
    /// container as stopped; returns 0 once that is done or there was nothing to do, 1 when
    /// slurmctld or munged did not answer for a day. The process around it is the guard verb's.
    /// </summary>
    public static int Watch(ContainerPaths paths, ILogger log)
    {
        var giveUp = DateTime.UtcNow + s_giveUp;
        for (var pause = TimeSpan.FromSeconds(5); ; pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMinutes(1).Ticks)))
        {
            try
            {
                using (var claim = ContainerClaim.WaitFor(paths))
                {
                    // Through the claim's descriptor: the state root may have been renamed or lazily
                    // unmounted (logind does that to /run/user/UID at logout) before the anchor died.
                    using var directory = claim is null ? null : DirectoryHandle.Borrow(claim.Descriptor, paths.Directory);
                    if (directory is null || StateStore.Read(directory, paths.Id) is not { } state || !OrphanedJob.IsLeftIn(state))
                    {
                        return 0;
                    }
                    var gone = $"the anchor (pid {state.AnchorPid}) of container \"{state.Id}\" is gone";
                    OrphanedJob.ReleaseAsync(state, gone, s_patience).GetAwaiter().GetResult();
                    StateStore.Write(directory, paths.Id, state with
                    {
                        Status = ContainerStatus.Stopped,
                        JobReleased = true,
                        ExitCode = state.ExitCode ?? (state.Status.HasStarted() ? Signal.Kill.ExitCode : null),
                        StopReason = state.StopReason ?? gone,
                    });
                    log.Warning("{Gone}: its job {Job} is ended", gone, state.JobId);
                    return 0;
                }
            }
            catch (ContainerException e)
            {
                log.Warning("{Problem}", e.Message);
                if (DateTime.UtcNow >= giveUp)
                {
                    return 1;
                }
            }
            Thread.Sleep(pause);
        }
    }
}
