using Scrun.Slurm;
using Scrun.Slurm.Interop;

namespace Scrun.Containers;

/// <summary>
/// A container's job ended by scrun: completed with the container's exit code, as salloc
/// reports it, or cancelled (as scancel) when the container never ran. A job that is gone
/// already counts as ended. The anchor, the guard, delete and the lease all end jobs this way.
/// </summary>
internal static class JobEnd
{
    public static async Task EndAsync(SlurmController controller, uint job, int? exitCode, ControllerOutage outage, CancellationToken cancellation = default)
    {
        try
        {
            await outage.RunAsync(token => exitCode is { } code
                ? controller.CompleteAllocationAsync(job, WaitStatus(code), token)
                : controller.SignalJobAsync(job, Signal.Kill, cancellation: token), cancellation: cancellation);
        }
        catch (SlurmException e) when (e.ErrorNumber is SlurmErrors.AlreadyDone or SlurmErrors.InvalidJobId)
        {
        }
    }

    /// <summary>What salloc reports to slurmctld: a wait status (exit code in bits 8-15, a signal in the low bits).</summary>
    private static int WaitStatus(int exitCode) => Signal.FromExitCode(exitCode) is { } signal ? signal.Number : exitCode << 8;
}
