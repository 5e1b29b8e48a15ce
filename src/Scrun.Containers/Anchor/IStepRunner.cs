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
    ProtocolVersion? Protocol);

/// <summary>
/// Runs the container's step in its job: <see cref="SrunStepRunner"/> (srun --container) today;
/// a launcher speaking Slurm's protocol itself next. The anchor knows only this seam.
/// </summary>
public interface IStepRunner
{
    /// <summary>
    /// Starts the step. Its stdin and stdout are the anchor's (the container's); its stderr
    /// reaches descriptor 2; with <see cref="StepLaunch.Terminal"/>, that terminal carries all three.
    /// </summary>
    /// <exception cref="ContainerException">The step could not be started.</exception>
    IStep Start(StepLaunch launch);
}

/// <summary>A step that was started.</summary>
public interface IStep : IDisposable
{
    /// <summary>Waits for the step to end: the container's exit code (128+N for a signal), its output flushed.</summary>
    Task<int> WaitForExitAsync();
}
