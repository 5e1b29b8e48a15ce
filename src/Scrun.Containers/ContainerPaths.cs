using Scrun.Containers.Interop;
using Scrun.Slurm.Interop;

namespace Scrun.Containers;

/// <summary>Where a container's files live under <c>--root</c>.</summary>
public sealed class ContainerPaths
{
    private const int MaxSocketPath = 107;

    public ContainerPaths(string root, ContainerId id)
    {
        Root = Resolve(root);
        Id = id;
        Directory = Path.Combine(Root, id.Value);
    }

    /// <summary>The state root with its symbolic links resolved (mountinfo and the kernel name real paths).</summary>
    public string Root { get; }

    public ContainerId Id { get; }

    /// <summary><c>&lt;root&gt;/&lt;id&gt;/</c>: state.json, the anchor's socket, the built-in staged bundle.</summary>
    public string Directory { get; }

    public string StateFile => Path.Combine(Directory, "state.json");

    public string Socket => Path.Combine(Directory, "anchor.sock");

    /// <summary>
    /// The socket path to bind or connect to: the real one when it fits in <c>sun_path</c>,
    /// else a short alias through an open directory descriptor (<c>/proc/self/fd/N/anchor.sock</c>).
    /// </summary>
    public string SocketAddress(int directoryDescriptor) =>
        Socket.Length <= MaxSocketPath ? Socket : $"/proc/self/fd/{directoryDescriptor}/anchor.sock";

    public bool SocketNeedsAlias => Socket.Length > MaxSocketPath;

    public string StagedBundle => Path.Combine(Directory, "bundle");

    /// <summary>
    /// <paramref name="path"/> made absolute with every symbolic link in it resolved, also when
    /// its last parts do not exist yet (they are appended to the real path of what exists):
    /// <c>/var/run/x</c> is <c>/run/x</c> on Debian.
    /// </summary>
    public static string Resolve(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var missing = new Stack<string>();
        for (var existing = full; ; existing = Path.GetDirectoryName(existing)!)
        {
            if (LibC.RealPath(existing) is { } real)
            {
                return missing.Aggregate(real, Path.Combine);
            }
            if (Path.GetDirectoryName(existing) is null)
            {
                return full;
            }
            missing.Push(Path.GetFileName(existing));
        }
    }

    /// <summary>
    /// <c>--root</c> if given; else <c>$XDG_RUNTIME_DIR/scrun</c>; else, for the real root
    /// (rootful Podman passes an empty XDG_RUNTIME_DIR), <c>/run/scrun</c> as runc uses
    /// <c>/run/runc</c>; else <c>/run/user/&lt;uid&gt;/scrun</c> when that directory exists; else
    /// an error: root inside a user namespace cannot tell whose directory to use.
    /// </summary>
    public static string ResolveRoot(string? explicitRoot, string? xdgRuntimeDir, ProcessIdentity identity)
    {
        if (!string.IsNullOrEmpty(explicitRoot))
        {
            return explicitRoot;
        }
        if (!string.IsNullOrEmpty(xdgRuntimeDir))
        {
            return Path.Combine(xdgRuntimeDir, "scrun");
        }
        // The real root first: /run/user/0 may appear between create and start (a staging
        // script writing there, a login), and the two would then look in different places.
        if (identity.IsRealRoot)
        {
            return "/run/scrun";
        }
        // Root of a rootless engine's namespace: the user's own directory, by the uid outside.
        var uid = identity.InUserNamespace && UserNamespace.OutsideIds() is { } outside ? outside.Uid : identity.Uid;
        var runUser = $"/run/user/{uid}";
        if (System.IO.Directory.Exists(runUser))
        {
            return Path.Combine(runUser, "scrun");
        }
        throw new ContainerException($"cannot choose a state directory: neither --root nor XDG_RUNTIME_DIR is set and {runUser} does not exist; pass --root");
    }
}
