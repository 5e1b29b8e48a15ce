using System.Text;

namespace Scrun.Containers.Interop;

/// <summary>
/// A path as the machine's own mount namespace (PID 1's) names it. A rootless engine runs its
/// runtime in a mount namespace of its own: rootless Docker's rootlesskit puts a tmpfs over
/// <c>/run</c> whose entries are links into a hidden bind of the real one, and containerd mounts
/// each container's root filesystem there. Buildah runs the runtime of a <c>podman build</c>
/// RUN step in a private mount namespace too, as root as well, with the step's root filesystem
/// bound on <c>&lt;bundle&gt;/mnt/rootfs</c> there only. Those names mean nothing to
/// slurmstepd. A path is translated through the file system it lives on: which file system and
/// which directory in it (this process's mountinfo), then where the host has that directory
/// mounted (PID 1's).
/// </summary>
internal static class HostPaths
{
    /// <summary>
    /// <paramref name="path"/> (resolved, see <see cref="ContainerPaths.Resolve"/>) as the host
    /// names it; the resolved path itself in the host's own mount namespace outside any user
    /// namespace; null when the host has no mount that shows it (an overlay or tmpfs only the
    /// engine's namespace has).
    /// </summary>
    public static string? AsHostSees(string path) =>
        Name(ContainerPaths.Resolve(path), Slurm.Interop.ProcessIdentity.Current.InUserNamespace, Read("/proc/self/mountinfo"), Read("/proc/1/mountinfo"));

    /// <summary>
    /// <paramref name="resolved"/> as the host names it, for a process with the mounts of
    /// <paramref name="own"/> (its mountinfo), in a user namespace or not, on a host with
    /// <paramref name="host"/>: itself in the host's mount namespace outside any user namespace,
    /// or when either table is unknown; else translated (<see cref="Translate"/>).
    /// </summary>
    public static string? Name(string resolved, bool inUserNamespace, string? own, string? host)
    {
        if (own is null || host is null || !inUserNamespace && SharesMounts(own, host))
        {
            return resolved;
        }
        return Translate(resolved, Parse(own), Parse(host));
    }

    /// <summary>
    /// Whether this process shares the host's (PID 1's) mount namespace: a mount made here is one
    /// the host sees. A new namespace copies every mount under a new mount id, so the root
    /// mounts' ids tell. True when PID 1's mountinfo cannot be read.
    /// </summary>
    public static bool InHostMountNamespace() => SharesMounts(Read("/proc/self/mountinfo"), Read("/proc/1/mountinfo"));

    /// <summary>Whether the two mountinfo tables are one namespace's (true when either is unknown).</summary>
    private static bool SharesMounts(string? own, string? host) => own is null || host is null || RootMountId(own) == RootMountId(host);

    private static string? RootMountId(string mountinfo) =>
        mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .LastOrDefault(fields => fields.Length >= 5 && fields[4] == "/")?[0];

    /// <summary>One line of a mountinfo file: the file system (device), the directory of it mounted, and where.</summary>
    public sealed record Mount(string Device, string Root, string MountPoint);

    /// <summary>The mounts of a mountinfo file, in its order (a later mount hides an earlier one at the same place).</summary>
    public static IReadOnlyList<Mount> Parse(string mountinfo) =>
        mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length >= 5)
            .Select(fields => new Mount(fields[2], Unescape(fields[3]), Unescape(fields[4])))
            .ToList();

    /// <summary><paramref name="path"/> (absolute, resolved) of the namespace with <paramref name="own"/> mounts, in the one with <paramref name="host"/> mounts.</summary>
    public static string? Translate(string path, IReadOnlyList<Mount> own, IReadOnlyList<Mount> host)
    {
        var mount = own.LastOrDefault(m => m.MountPoint == LongestMountPoint(path, own));
        if (mount is null)
        {
            return null;
        }
        var inFileSystem = Join(mount.Root, Relative(path, mount.MountPoint)!);
        // The host may show the directory in several places (a bind mount into a chroot, say):
        // the same name if it has it, else the shortest (the file system's own mount rather than
        // a chroot's bind of part of it), then the most direct one (mounted from the deepest
        // directory). A name another mount hides on the host shows something else: only when
        // every name is hidden so is one of them taken.
        var shown = host.Where(m => m.Device == mount.Device && Relative(inFileSystem, m.Root) is not null)
            .Select(m => (Mount: m, Name: Join(m.MountPoint, Relative(inFileSystem, m.Root)!)))
            .OrderBy(n => n.Name.Length).ThenByDescending(n => n.Mount.Root.Length)
            .ToList();
        var visible = shown.Where(n => !IsHidden(n.Name, n.Mount, host)).Select(n => n.Name).ToList();
        var names = visible.Count > 0 ? visible : shown.Select(n => n.Name).ToList();
        return names.Contains(path) ? path : names.FirstOrDefault();
    }

    /// <summary>Whether the host shows something else than <paramref name="mount"/> at <paramref name="name"/>: the mount covering that name (the deepest, the last of those at one place) is another.</summary>
    private static bool IsHidden(string name, Mount mount, IReadOnlyList<Mount> host)
    {
        var covering = host.LastOrDefault(m => m.MountPoint == LongestMountPoint(name, host));
        return covering is not null && !ReferenceEquals(covering, mount);
    }

    private static string? LongestMountPoint(string path, IReadOnlyList<Mount> mounts) =>
        mounts.Select(m => m.MountPoint).Where(p => Relative(path, p) is not null).MaxBy(p => p.Length);

    /// <summary>The part of <paramref name="path"/> below <paramref name="directory"/> ("" for itself); null when it is not below.</summary>
    private static string? Relative(string path, string directory)
    {
        if (directory == "/")
        {
            return path.TrimStart('/');
        }
        if (path == directory)
        {
            return "";
        }
        return path.StartsWith(directory + "/", StringComparison.Ordinal) ? path[(directory.Length + 1)..] : null;
    }

    private static string Join(string directory, string relative) =>
        relative.Length == 0 ? directory : directory == "/" ? "/" + relative : directory + "/" + relative;

    /// <summary>mountinfo writes space, tab, newline and backslash as octal escapes (<c>\040</c>).</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }
        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }
        return text.ToString();
    }

    private static bool IsOctal(string field, int start) =>
        start + 3 <= field.Length && field.Substring(start, 3).All(c => c is >= '0' and <= '7');

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
