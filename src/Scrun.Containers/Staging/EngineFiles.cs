using Scrun.Containers.Oci;
using Serilog;

namespace Scrun.Containers.Staging;

/// <summary>
/// The files Podman and Docker make for each container (hosts, resolv.conf, hostname,
/// .containerenv; Podman's shm) are bind mounts from the engine's own directories, which only
/// the login node sees: a directory named after the container, or the bundle itself. The staged
/// bundle takes copies of them and /dev/shm becomes a tmpfs of the node's, so the staged bundle is
/// everything a compute node needs. A user's own volumes are left as they are.
/// </summary>
internal static class EngineFiles
{
    /// <summary>Where in the staged bundle the copies go.</summary>
    public const string Directory = "engine-files";

    /// <summary>Copies the engine's per-container files into <paramref name="stagedBundle"/>; the config names them under <paramref name="nodeBundle"/>, that directory as the node names it (see <see cref="Interop.HostPaths"/>).</summary>
    public static MountChanges Stage(BundleConfig config, ContainerId id, string stagedBundle, string nodeBundle, ILogger log)
    {
        var moved = new Dictionary<int, string>();
        var tmpfs = new List<int>();
        foreach (var mount in config.BindMounts.Where(m => IsTheEngines(m.Source, id, config.Bundle)))
        {
            if (mount.Destination.TrimEnd('/') == "/dev/shm")
            {
                tmpfs.Add(mount.Index);
                continue;
            }
            var copy = Path.Combine(stagedBundle, Directory, $"{mount.Index}-{Path.GetFileName(mount.Source.TrimEnd('/'))}");
            try
            {
                if (System.IO.Directory.Exists(mount.Source))
                {
                    CopyTree(new DirectoryInfo(mount.Source), copy);
                }
                else if (File.Exists(mount.Source))
                {
                    System.IO.Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
                    File.Copy(mount.Source, copy);
                }
                else
                {
                    continue; // runc names what is missing
                }
                moved[mount.Index] = Path.Combine(nodeBundle, Path.GetRelativePath(stagedBundle, copy));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Warning("container {Id}: {Source} stays a mount from the login node: {Reason}", id, mount.Source, e.Message);
            }
        }
        return new MountChanges(moved, tmpfs);
    }

    private static bool IsTheEngines(string source, ContainerId id, string bundle)
    {
        if (!source.StartsWith('/'))
        {
            return false;
        }
        var directories = Path.GetDirectoryName(source.TrimEnd('/'))?.Split('/') ?? [];
        return directories.Contains(id.Value, StringComparer.Ordinal)
            || source.StartsWith(Path.TrimEndingDirectorySeparator(bundle) + "/", StringComparison.Ordinal);
    }

    private static void CopyTree(DirectoryInfo source, string destination)
    {
        System.IO.Directory.CreateDirectory(destination);
        foreach (var entry in source.EnumerateFileSystemInfos())
        {
            var target = Path.Combine(destination, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo directory)
            {
                CopyTree(directory, target);
            }
            else
            {
                File.Copy(entry.FullName, target);
            }
        }
    }
}
