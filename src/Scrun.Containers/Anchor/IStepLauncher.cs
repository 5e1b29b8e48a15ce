using Scrun.Slurm.Wire;

namespace Scrun.Containers.Anchor;

/// <summary>What the container's step needs, whichever launcher runs it.</summary>
internal sealed record StepLaunch(
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
/// Runs the container's step in its job: <see cref="NativeStepLauncher"/> speaks Slurm's step
/// protocol itself; <see cref="SrunStepLauncher"/> runs srun --container. The anchor knows only
/// this seam, and asks a step only what its <see cref="IStep.Can"/> says it does.
/// </summary>
internal interface IStepLauncher
{
    /// <summary>
    /// Starts the step. Its stdin and stdout are the anchor's (the container's); its stderr
    /// reaches descriptor 2; with <see cref="StepLaunch.Terminal"/>, that terminal carries all three.
    /// </summary>
    /// <exception cref="ContainerException">The step could not be started.</exception>
    Task<IStep> StartAsync(StepLaunch launch, CancellationToken cancellation);
}

/// <summary>What a launcher's steps do beyond running and ending.</summary>
/// <param name="NameTheirStep">The step's number is known (Slurm's signals reach it, not the job's first step).</param>
/// <param name="EndOnTheNodesWord">
/// It can end on the exit scrun node-run reports, when slurmstepd's message is lost (MUNGE down on
/// the node): <see cref="IStep.Conclude"/>.
/// </param>
/// <param name="LearnTheJobsEnd">It hears on its own that the job or a node ended (srun); else <see cref="IStep.GiveUp"/> is needed.</param>
/// <param name="LearnResizes">It reads the terminal's size on its own (srun, from SIGWINCH); else <see cref="IStep.TerminalResized"/> is needed.</param>
/// <param name="BreakOnEarlyResize">A resize before the step's terminal is connected breaks it (srun up to 25.05): resizes are held until then.</param>
internal sealed record StepCapabilities(bool NameTheirStep, bool EndOnTheNodesWord, bool LearnTheJobsEnd, bool LearnResizes, bool BreakOnEarlyResize)
{
    public static readonly StepCapabilities Native = new(NameTheirStep: true, EndOnTheNodesWord: true, LearnTheJobsEnd: false, LearnResizes: false, BreakOnEarlyResize: false);

    public static readonly StepCapabilities Srun = new(NameTheirStep: false, EndOnTheNodesWord: false, LearnTheJobsEnd: true, LearnResizes: true, BreakOnEarlyResize: true);
}

/// <summary>A step that was started.</summary>
internal interface IStep : IDisposable
{
    StepCapabilities Can { get; }

    /// <summary>The step's end as its launcher saw it: its exit code (128+N for a signal), its output flushed.</summary>
    Task<int> Completion { get; }

    /// <summary>The step's number in its job (when <see cref="StepCapabilities.NameTheirStep"/>).</summary>
    uint? StepNumber { get; }

    /// <summary>Ends the step with the exit the nodes reported, unless it is ending already (<see cref="StepCapabilities.EndOnTheNodesWord"/>).</summary>
    void Conclude(int exitCode);

    /// <summary>Ends the step as lost, unless it is ending already (when not <see cref="StepCapabilities.LearnTheJobsEnd"/>).</summary>
    void GiveUp(string why);

    /// <summary>The step's terminal was given a new size (when not <see cref="StepCapabilities.LearnResizes"/>).</summary>
    void TerminalResized();
}
