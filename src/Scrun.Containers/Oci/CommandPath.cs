namespace Scrun.Containers.Oci;

/// <summary>
/// The container's command as a path inside its image. Slurm 24.11 and later look a bare command
/// (<c>sh</c>) up in the node's PATH before the container exists, and the container then
/// gets the node's <c>/usr/bin/sh</c>, absent from images without a merged /usr (busybox, Alpine).
/// scrun looks it up where runc would: in the image, along the container's own PATH.
/// </summary>
internal static class CommandPath
{
    /// <summary>runc's PATH for a process without one.</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// <paramref name="command"/> as found in <paramref name="rootfs"/> along the PATH of
    /// <paramref name="environment"/>; a command with a slash, or one not found, as it is.
    /// </summary>
    public static string InImage(string rootfs, string command, IReadOnlyList<string> environment)
    {
        if (command.Length == 0 || command.Contains('/'))
        {
            return command;
        }
        foreach (var directory in PathOf(environment).Split(':'))
        {
            if (!directory.StartsWith('/'))
            {
                continue;
            }
            var candidate = Path.Join(rootfs, directory, command);
            // A link counts as found: an absolute one points into the image, not at this host.
            if (File.Exists(candidate) || new FileInfo(candidate).LinkTarget is not null)
            {
                return Path.Join(directory, command);
            }
        }
        return command;
    }

    /// <summary>
    /// Why runc would refuse to exec <paramref name="command"/> from <paramref name="rootfs"/>, in
    /// its words (it says so at create, and Podman and Docker turn "not found" into 127 and
    /// "permission denied" into 126); null when it would not, or when one of
    /// <paramref name="mountDestinations"/> may bring the command in. Links are followed inside
    /// the image, as in the container.
    /// </summary>
    public static string? ExecRefusal(string rootfs, string command, IReadOnlyList<string> environment, IReadOnlyCollection<string> mountDestinations)
    {
        bool UnderMount(string path) => mountDestinations.Select(d => d.TrimEnd('/')).Any(d => d.Length > 0 && (path == d || path.StartsWith(d + "/", StringComparison.Ordinal)));
        var found = InImage(rootfs, command, environment);
        if (!found.Contains('/'))
        {
            return command.Length > 0 && PathOf(environment).Split(':').Any(d => d.StartsWith('/') && UnderMount(d))
                ? null
                : $"unable to start container process: exec: \"{command}\": executable file not found in $PATH";
        }
        if (!found.StartsWith('/') || UnderMount(found))
        {
            return null; // relative to process.cwd, or brought by a mount: runc's to judge
        }
        var inImage = ResolveInImage(rootfs, found);
        if (inImage is null || !(File.Exists(inImage) || System.IO.Directory.Exists(inImage)))
        {
            return $"unable to start container process: exec: \"{command}\": stat {found}: no such file or directory";
        }
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return System.IO.Directory.Exists(inImage) || (File.GetUnixFileMode(inImage) & anyExecute) == 0
            ? $"unable to start container process: exec: \"{command}\": permission denied"
            : null;
    }

    private static string PathOf(IReadOnlyList<string> environment) =>
        environment.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?["PATH=".Length..] ?? DefaultPath;

    /// <summary><paramref name="path"/> (absolute, in the image) on this host, its links resolved inside <paramref name="rootfs"/> as a chroot would; null past 40 links.</summary>
    private static string? ResolveInImage(string rootfs, string path)
    {
        var pending = new Stack<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var resolved = new List<string>();
        for (var links = 0; pending.Count > 0;)
        {
            var part = pending.Pop();
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }
                continue;
            }
            var here = Path.Join(rootfs, "/" + string.Join('/', [.. resolved, part]));
            if (new FileInfo(here).LinkTarget is { } target)
            {
                if (++links > 40)
                {
                    return null;
                }
                if (target.StartsWith('/'))
                {
                    resolved.Clear();
                }
                foreach (var next in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                {
                    pending.Push(next);
                }
                continue;
            }
            resolved.Add(part);
        }
        return Path.Join(rootfs, "/" + string.Join('/', resolved));
    }
}
