using Scrun.Slurm;
using Scrun.Slurm.Wire;

namespace Scrun.Containers;

/// <summary>The job of a container whose anchor is gone (killed, crashed) and did not end it.</summary>
internal static class OrphanedJob
{
    /// <summary>Whether <paramref name="state"/> names a job of scrun's that nobody has ended.</summary>
    public static bool IsLeftIn(ContainerState state) => state is { JobId: not null, ExistingAllocation: false, JobReleased: false };

    /// <summary>
    /// Ends the job, with the container's exit code when it had one, on the cluster and in the
    /// wire format the anchor used, whatever this process's environment says.
    /// </summary>
    /// <exception cref="ContainerException">It could not be ended (said after <paramref name="verb"/>): the state must be kept.</exception>
    public static async Task ReleaseAsync(ContainerState state, string verb, TimeSpan patience)
    {
        if (!IsLeftIn(state))
        {
            return;
        }
        var job = state.JobId!.Value;
        try
        {
            var slurm = (SlurmClientSettings.FromProcessEnvironment(state.SlurmConf) with
            {
                KnownProtocol = state.SlurmProtocol is { } release && ProtocolVersion.TryParseRelease(release, out var version) ? version : null,
            }).Connect();
            var exitCode = state.Status.HasEnded() ? state.ExitCode : null; // the step ran: its status; else cancelled
            await JobEnd.EndAsync(slurm, job, exitCode, new ControllerOutage(patience));
        }
        catch (Exception e) when (e is SlurmClientException or TimeoutException)
        {
            throw new ContainerException($"{verb}: its job {job} could not be ended ({e.Message}); the state is kept, try again once slurmctld and munged answer");
        }
    }
}
