using Scrun.Containers.Interop;
using Serilog;

namespace Scrun.Containers.Staging;

/// <summary>
/// A bundle for the node beside the container's state: its config.json (root made absolute,
/// node-local hooks removed) and <c>rootfs</c>, which Slurm 22.05 runs whatever config.json
/// says. runc refuses a symbolic link there, so as root the caller's root filesystem is
/// bind-mounted on it; otherwise it is a link (enough for crun, and for 23.02+, which run the
/// config's absolute root.path). The staging directory must be visible on the compute nodes:
/// <c>SCRUN_STAGING_DIR</c> names a shared one.
/// </summary>
public sealed class BuiltInStaging(string? stagingRoot, ILogger log) : IStaging
{
    public const string Variable = "SCRUN_STAGING_DIR";

    /// <summary>The staged bundle: <c>$SCRUN_STAGING_DIR/&lt;id&gt;</c> (its links resolved), else beside the state.</summary>
    public string BundleFor(ContainerPaths paths) =>
        stagingRoot is { Length: > 0 } root ? Path.Combine(ContainerPaths.Resolve(root), paths.Id.Value) : paths.StagedBundle;

    public string PlannedBundle(ContainerPaths paths, string submittedBundle) => BundleFor(paths);

    public Task<StagedBundle> StageInAsync(StagingContext context, CancellationToken cancellation)
    {
        var bundle = BundleFor(context.Paths);
        FileTree.Remove(bundle); // what a container of this id left (its anchor was killed)
        Directory.CreateDirectory(bundle);
        var rootfs = Path.Combine(bundle, "rootfs");
        if (Mounts.CanBindMount)
        {
            Directory.CreateDirectory(rootfs);
            Mounts.Bind(context.Config.RootPath, rootfs);
        }
        else
        {
            File.CreateSymbolicLink(rootfs, context.Config.RootPath);
        }
        File.WriteAllText(Path.Combine(bundle, "config.json"), context.Config.ToStagedJson(context.Config.RootPath));
        return Task.FromResult(new StagedBundle(bundle, rootfs, Owned: true));
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
