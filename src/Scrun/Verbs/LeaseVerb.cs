using System.Runtime.InteropServices;
using Scrun.Containers.Interop;
using Scrun.Containers.NodeControl;
using Scrun.Slurm.Interop;

namespace Scrun.Verbs;

/// <summary>
/// The hidden <c>__lease</c> verb: the lease step's task on the job's first node, which cancels
/// the job once its anchor is gone (<see cref="JobLeaseHolder"/>).
/// </summary>
internal static class LeaseVerb
{
    /// <summary>
    /// What Slurm or a user may send every step of the job (a signal for the whole job when the
    /// container's step is not known yet): the lease outlives them all. At the job's end KILL follows.
    /// </summary>
    private static readonly PosixSignal[] s_outlived =
        [PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP, PosixSignal.SIGQUIT, PosixSignal.SIGTSTP, PosixSignal.SIGTTIN, PosixSignal.SIGTTOU,
            (PosixSignal)Signal.User1.Number, (PosixSignal)Signal.User2.Number, (PosixSignal)Signal.Alarm.Number];

    public static int Run()
    {
        // The step's stderr, the anchor's while it lives: written straight to descriptor 2.
        using var stderr = new StreamWriter(new DescriptorStream(2)) { AutoFlush = true };
        using var swallowed = new SwallowedSignals(s_outlived);
        return new JobLeaseHolder(stderr, Environment.GetEnvironmentVariable).RunAsync().GetAwaiter().GetResult();
    }
}
