using Scrun.Containers.Interop;
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
/// </summary>
public sealed class BuiltInStaging(string? stagingRoot, ILogger log) : IStaging
{
    public const string Variable = "SCRUN_STAGING_DIR";

    /// <summary>The staged bundle: <c>$SCRUN_STAGING_DIR/&lt;id&gt;</c> (its links resolved), else beside the state.</summary>
    public string BundleFor(ContainerPaths paths) =>
        stagingRoot is { Length: > 0 } root ? Path.Combine(ContainerPaths.Resolve(root), paths.Id.Value) : paths.StagedBundle;

    public string PlannedBundle(ContainerPaths paths, string submittedBundle) => HostPaths.AsHostSees(BundleFor(paths)) ?? BundleFor(paths);

    public Task<StagedBundle> StageInAsync(StagingContext context, CancellationToken cancellation)
    {
        var bundle = BundleFor(context.Paths);
        FileTree.Remove(bundle); // what a container of this id left (its anchor was killed)
        Directory.CreateDirectory(bundle);
        var rootfs = Path.Combine(bundle, "rootfs");
        string rootPath;
        if (Mounts.CanBindMount)
        {
            Directory.CreateDirectory(rootfs);
            Mounts.Bind(context.Config.RootPath, rootfs);
            rootPath = rootfs;
        }
        else
        {
            // The node follows the link and reads root.path by the names the host gives them.
            rootPath = HostPaths.AsHostSees(context.Config.RootPath) ?? throw new ContainerException(
                $"the container's root filesystem {context.Config.RootPath} is a mount only the engine's namespace has, which no compute node can see: use vfs storage, or a scrun.lua that copies it");
            File.CreateSymbolicLink(rootfs, rootPath);
        }
        var nodeBundle = HostPaths.AsHostSees(bundle) ?? throw new ContainerException(
            $"the staging directory {bundle} is only visible inside the engine's namespace: set {Variable} to a directory the compute nodes share");
        var mounts = EngineFiles.Stage(context.Config, context.Id, bundle, nodeBundle, log);
        // Called by a rootless engine (uid 0 of its user namespace): the node runs runc as the user.
        var runAsOnNode = UserNamespace.OutsideIds();
        File.WriteAllText(Path.Combine(bundle, "config.json"), context.Config.ToStagedJson(rootPath, mounts, runAsOnNode));
        return Task.FromResult(new StagedBundle(bundle, rootfs, Owned: true) { NodeBundle = nodeBundle });
    }

    public Task StageOutAsync(StagingContext context, CancellationToken cancellation)
    {
        try
        {
            FileTree.Remove(BundleFor(context.Paths));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning("stage-out of container {Id} failed: {Reason}", context.Id, e.Message);
        }
        return Task.CompletedTask;
    }
}
