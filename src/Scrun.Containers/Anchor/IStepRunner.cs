using Scrun.Slurm.Wire;

namespace Scrun.Containers.Anchor;

/// <summary>What the container's step needs, whichever launcher runs it.</summary>
public sealed record StepLaunch(
    uint JobId,
    string JobName,
    string ContainerId,
    string Bundle,
    string? Terminal,
    IReadOnlyList<string> StepArguments,
    IReadOnlyList<string> Args,
    IReadOnlyDictionary<string, string> Environment,
    string WorkingDirectory,
    ProtocolVersion? Protocol)
{
    /// <summary>The job's nodes and owner (a native launch runs one task per node and names the owner on 22.05).</summary>
    public JobPlacement? Placement { get; init; }
}

/// <summary>
/// Runs the container's step in its job: <see cref="NativeStepRunner"/> speaks Slurm's step
/// protocol itself; <see cref="SrunStepRunner"/> runs srun --container. The anchor knows only this seam.
/// </summary>
public interface IStepRunner
{
    /// <summary>
    /// Starts the step. Its stdin and stdout are the anchor's (the container's); its stderr
    /// reaches descriptor 2; with <see cref="StepLaunch.Terminal"/>, that terminal carries all three.
    /// </summary>
    /// <exception cref="ContainerException">The step could not be started.</exception>
    Task<IStep> StartAsync(StepLaunch launch, CancellationToken cancellation);
}

/// <summary>A step that was started.</summary>
public interface IStep : IDisposable
{
    /// <summary>Waits for the step to end: the container's exit code (128+N for a signal), its output flushed.</summary>
    Task<int> WaitForExitAsync();

    /// <summary>The step's number in its job, when the launcher knows it (srun does not say).</summary>
    uint? StepNumber => null;

    /// <summary>Slurm said the job ended or lost a node: a step that hears nothing more from its nodes must end (srun learns it on its own).</summary>
    void JobEnded(string why)
    {
    }

    /// <summary>
    /// scrun node-run says the container has exited on every node, with this exit code: Slurm's
    /// own word follows at once, unless slurmstepd cannot send it (MUNGE down on the node); then
    /// this one stands (srun waits for Slurm's).
    /// </summary>
    void ExitedOnNodes(int exitCode)
    {
    }

    /// <summary>The step's terminal was given a new size (srun learns it from SIGWINCH on its own).</summary>
    void TerminalResized()
    {
    }

    /// <summary>A resize before the step's terminal is connected breaks it (srun up to 25.05): hold it until the step talks.</summary>
    bool ResizeBreaksEarlyStep => true;
}
