using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Serilog;

namespace Scrun.Containers.Staging;

/// <summary>
/// A bundle for the node beside the container's state: its config.json (node-local hooks
/// removed, the engine's per-container files copied in, see <see cref="EngineFiles"/>) and
/// <c>rootfs</c>, which Slurm 22.05 runs whatever config.json says. runc refuses a symbolic link
/// there, so as root the caller's root filesystem is bind-mounted on it and root.path names it:
/// the bundle is all the node needs. Otherwise it is a link and root.path the caller's (enough
/// for crun, and for 23.02+, which run the config's absolute root.path). The staging directory
/// must be visible on the compute nodes: <c>SCRUN_STAGING_DIR</c> names a shared one.
/// A container with uid mappings of its own is run on the node by its mapped root, another
/// uid, which cannot pass the state directory (its owner's alone): its bundle goes where any uid
/// may pass but none may list, under a name nobody can guess (see <see cref="TraversableStaging"/>).
/// </summary>
internal sealed class BuiltInStaging(string? stagingRoot, ILogger log) : IStaging
{
    public const string Variable = "SCRUN_STAGING_DIR";

    /// <summary>
    /// The directory of the state root, mode 0711 like the root itself then, holding the bundles of
    /// containers with uid mappings, each under 128 random bits. Not a container id ('@').
    /// </summary>
    public const string TraversableStaging = "staged@mapped";

    private readonly string _unguessable = Interop.KernelRandom.Hex(16);

    /// <summary>
    /// The staged bundle: <c>$SCRUN_STAGING_DIR/&lt;id&gt;</c> (its links resolved), else beside
    /// the state, or for a container whose root is mapped to another uid (a bind-mounted
    /// rootfs, as root), in <see cref="TraversableStaging"/>.
    /// </summary>
    public string BundleFor(ContainerPaths paths, BundleConfig config) =>
        stagingRoot is { Length: > 0 } root ? Path.Combine(ContainerPaths.Resolve(root), paths.Id.Value)
        : ForMappedRoot(config) ? Path.Combine(paths.Root, TraversableStaging, $"{paths.Id.Value}.{_unguessable}")
        : paths.StagedBundle;

    /// <summary>Whether the bundle goes to <see cref="TraversableStaging"/>: no staging directory is named, and the node's root of the container is another uid.</summary>
    private bool ForMappedRoot(BundleConfig config) => stagingRoot is not { Length: > 0 } && config.MapsUsers && Mounts.CanBindMount;

    public string PlannedBundle(ContainerPaths paths, BundleConfig config) => HostPaths.AsHostSees(BundleFor(paths, config)) ?? BundleFor(paths, config);

    /// <summary>
    /// Makes the bundle exclusively, private to its owner (0700: config.json carries the
    /// container's environment, its secrets included), and writes everything in it through the
    /// directory's descriptor, never by a path another user could redirect. A staging directory
    /// others may write in is used only when it is sticky (no one else can then replace what is
    /// ours); an entry of the container's name that is not ours is refused, never removed.
    /// </summary>
    public Task<StagedBundle> StageInAsync(StagingContext context, CancellationToken cancellation)
    {
        var bundle = BundleFor(context.Paths, context.Config);
        var forMappedRoot = ForMappedRoot(context.Config);
        if (forMappedRoot)
        {
            OpenForMappedRoot(context.Paths.Root);
        }
        using var parent = StagingDirectory.Open(Path.GetDirectoryName(bundle)!, stagingRoot is { Length: > 0 } ? Variable : null);
        var name = Path.GetFileName(bundle);
        StagingDirectory.RemoveLeftover(parent, name); // what a container of this id left (its anchor was killed)
        // A root that is another uid on the node (a mapped root's) must pass through the bundle to its rootfs.
        using var staged = parent.MakeDirectory(name, context.Config.MapsUsers && Mounts.CanBindMount ? Passable : Private);
        string rootPath;
        var rootfs = Path.Combine(bundle, "rootfs");
        if (Mounts.CanBindMount)
        {
            staged.MakeDirectory("rootfs", Readable).Dispose();
            Mounts.Bind(context.Config.RootPath, Path.Combine(staged.ProcPath, "rootfs"));
            rootPath = rootfs;
        }
        else
        {
            // The node follows the link and reads root.path by the names the host gives them.
            rootPath = LinkedRootPath(context.Config, context.Id);
            staged.CreateSymbolicLink("rootfs", rootPath);
        }
        var nodeBundle = HostPaths.AsHostSees(bundle) ?? throw new ContainerException(
            $"the staging directory {bundle} is only visible inside the engine's namespace: set {Variable} to a directory the compute nodes share");
        var mounts = EngineFiles.Stage(context.Config, context.Id, staged.ProcPath, nodeBundle, log);
        // Called by a rootless engine (uid 0 of its user namespace): the node runs runc as the user.
        var runAsOnNode = UserNamespace.OutsideIds();
        using (var config = staged.CreateFile("config.json", UnixFileMode.UserRead | UnixFileMode.UserWrite))
        {
            config.Write(System.Text.Encoding.UTF8.GetBytes(context.Config.ToStagedJson(rootPath, mounts, runAsOnNode)));
        }
        return Task.FromResult(new StagedBundle(bundle, rootfs, Owned: true) { NodeBundle = nodeBundle });
    }

    /// <summary>
    /// Checks, at create and before any job exists, what <see cref="StageInAsync"/> would refuse
    /// later: a root filesystem the bundle can only link to, and that no host mount shows.
    /// </summary>
    /// <exception cref="ContainerException">The compute nodes could not see the root filesystem; the line says what to do.</exception>
    public static void EnsureNodesSeeRoot(BundleConfig config, ContainerId id)
    {
        if (!Mounts.CanBindMount)
        {
            _ = LinkedRootPath(config, id);
        }
    }

    /// <summary>
    /// The root filesystem as the host names it, for the bundle's link when it cannot be
    /// bind-mounted there: in a rootless engine's namespace, and as root outside the host's mount
    /// namespace, where Buildah runs the runtime of a RUN step with the step's root filesystem
    /// bound on <c>&lt;bundle&gt;/mnt/rootfs</c> for its namespace alone. The host shows the same
    /// directory in the engine's storage (vfs, or an overlay Podman mounted as root), which the
    /// node then runs, so what the step writes lands where the engine commits it from.
    /// </summary>
    /// <exception cref="ContainerException">No host mount shows it (an overlay mounted in a rootless engine's namespace).</exception>
    private static string LinkedRootPath(BundleConfig config, ContainerId id) =>
        HostPaths.AsHostSees(config.RootPath) ?? throw new ContainerException(UnseenRoot(config, id));

    /// <summary>Why a root filesystem no host mount shows cannot run, and what to do: a build step has two ways more.</summary>
    internal static string UnseenRoot(BundleConfig config, ContainerId id) => BuildSteps.IsBuildStep(id, config.Bundle)
        ? $"the root filesystem of this podman build RUN step, {config.RootPath}, is a mount only the engine's namespace has, which no compute node can see: use vfs storage, set {BuildSteps.LocalRuntimeVariable} to run build steps on this node, or build with --runtime runc"
        : $"the container's root filesystem {config.RootPath} is a mount only the engine's namespace has, which no compute node can see: use vfs storage, or a scrun.lua that copies it";

    public Task StageOutAsync(StagingContext context, CancellationToken cancellation)
    {
        try
        {
            StagingDirectory.RemoveBundle(BundleFor(context.Paths, context.Config));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning("stage-out of container {Id} failed: {Reason}", context.Id, e.Message);
        }
        return Task.CompletedTask;
    }

    /// <summary>0700: a staged bundle, its owner's alone.</summary>
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>0711: the bundle of a mapped root, which passes it to rootfs and engine-files but cannot list it.</summary>
    private const UnixFileMode Passable = Private | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>0755: what a mapped root reads inside its bundle (its rootfs mount point).</summary>
    private const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>
    /// The state root and <see cref="TraversableStaging"/> passable by any uid (0711): nothing in
    /// them can be listed, each container's own directory stays its owner's (0700), and a bundle
    /// there is reached only by its random name.
    /// </summary>
    private static void OpenForMappedRoot(string stateRoot)
    {
        const UnixFileMode passable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        var staging = Path.Combine(stateRoot, TraversableStaging);
        Directory.CreateDirectory(staging, passable);
        File.SetUnixFileMode(staging, passable);
        File.SetUnixFileMode(stateRoot, passable);
    }
}
