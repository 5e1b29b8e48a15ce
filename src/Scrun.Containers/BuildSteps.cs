namespace Scrun.Containers;

/// <summary>
/// The containers Buildah runs for the RUN steps of <c>podman build</c> (and <c>buildah
/// run</c>). Buildah 1.28 (Podman 4.3) makes a bundle <c>$TMPDIR/buildahNNN</c>, runs the
/// runtime in a private mount namespace of its own where the step's root filesystem is bound on
/// <c>&lt;bundle&gt;/mnt/rootfs</c>, as root too, calls <c>create --bundle B --pid-file B/pid
/// buildah-buildahNNN</c>, <c>start</c>, <c>state</c> every 100 ms until stopped, <c>delete</c>,
/// and waits for the pid of the pid file as a subreaper. No annotation marks these containers
/// (config.json has none): the id, <c>buildah-</c> and the bundle's name, does.
/// </summary>
public static class BuildSteps
{
    /// <summary>
    /// A site's setting, read from the runtime's own environment alone (containers.conf's
    /// <c>[engine] env</c> reaches it; an image's <c>ENV</c> never does): the runtime that runs
    /// build steps on this node, called with scrun's own arguments, instead of a job each.
    /// </summary>
    public const string LocalRuntimeVariable = "SCRUN_BUILD_RUNTIME";

    /// <summary>Whether <paramref name="id"/> is one Buildah gives a RUN step (<c>buildah-buildah</c> and digits).</summary>
    public static bool IsBuildStepId(ContainerId id) =>
        id.Value.Length > IdPrefix.Length && id.Value.StartsWith(IdPrefix, StringComparison.Ordinal) && id.Value[IdPrefix.Length..].All(char.IsAsciiDigit);

    /// <summary>What every RUN step's id starts with: <c>buildah-</c> and the bundle's name, made by <c>os.MkdirTemp("", "buildah")</c>.</summary>
    private const string IdPrefix = "buildah-buildah";

    /// <summary>Whether create's <paramref name="id"/> and <paramref name="bundle"/> are a RUN step's: the id is <c>buildah-</c> and the bundle's name.</summary>
    public static bool IsBuildStep(ContainerId id, string bundle) =>
        IsBuildStepId(id) && id.Value == "buildah-" + Path.GetFileName(Path.TrimEndingDirectorySeparator(bundle));

    /// <summary>
    /// With <see cref="LocalRuntimeVariable"/> set, a build step's verb becomes that runtime, with
    /// this verb's own <paramref name="arguments"/> (runc's flags and verbs are scrun's): create
    /// when its id and bundle are a step's; the other verbs when the id is and scrun holds no
    /// container of that id in <paramref name="stateRoot"/>. Returns when the container is not
    /// one to run here.
    /// </summary>
    /// <param name="id">The container the verb acts on.</param>
    /// <param name="createBundle">create's bundle (absolute); null for the other verbs.</param>
    /// <param name="stateRoot">scrun's state root for this caller.</param>
    /// <param name="arguments">This process's arguments, after its name.</param>
    /// <param name="log">Says which runtime took the step (debug).</param>
    /// <exception cref="ContainerException">The variable's value names no runtime, or it could not be run.</exception>
    public static void RunLocallyIfBuildStep(ContainerId id, string? createBundle, string stateRoot, IReadOnlyList<string> arguments, Serilog.ILogger log)
    {
        if (!IsBuildStepId(id) || LocalRuntime(Environment.GetEnvironmentVariable(LocalRuntimeVariable), Interop.LibC.RealPath("/proc/self/exe")) is not { } runtime)
        {
            return;
        }
        var isStep = createBundle is not null ? IsBuildStep(id, createBundle) : !Directory.Exists(Path.Combine(stateRoot, id.Value));
        if (!isStep)
        {
            return;
        }
        log.Debug("container {Id} is a build step: {Runtime} ({Variable}) runs it on this node", id, runtime, LocalRuntimeVariable);
        Interop.LibC.Exec([runtime, .. arguments]);
        throw new ContainerException($"cannot run {LocalRuntimeVariable}={runtime}: {Interop.LibC.LastError()}");
    }

    /// <summary>
    /// <see cref="LocalRuntimeVariable"/>'s runtime, or null when it is not set: an absolute path
    /// (nothing looked up in a PATH the engine chose) that is not scrun itself, which would
    /// hand the step back to itself for ever.
    /// </summary>
    /// <param name="value">The variable's value in the runtime's environment.</param>
    /// <param name="ownExecutable">This program's real path.</param>
    /// <exception cref="ContainerException">The value cannot name a runtime, said in one line.</exception>
    public static string? LocalRuntime(string? value, string? ownExecutable)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }
        if (!Path.IsPathFullyQualified(value))
        {
            throw new ContainerException($"{LocalRuntimeVariable}={value} is not valid: expected the absolute path of a runtime such as /usr/sbin/runc");
        }
        if (ownExecutable is not null && Interop.LibC.RealPath(value) == ownExecutable)
        {
            throw new ContainerException($"{LocalRuntimeVariable}={value} is not valid: it is scrun itself; name the runtime build steps run with on this node, such as /usr/sbin/runc");
        }
        return value;
    }
}
