namespace Scrun.Containers.Oci;

/// <summary>
/// The container's command as a path inside its image. Slurm 24.11 and later look a bare command
/// (<c>sh</c>) up in the node's PATH before the container exists, and the container then
/// gets the node's <c>/usr/bin/sh</c>, absent from images without a merged /usr (busybox, Alpine).
/// scrun looks it up where runc would: in the image, along the container's own PATH.
/// </summary>
public static class CommandPath
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
        var path = environment.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?["PATH=".Length..] ?? DefaultPath;
        foreach (var directory in path.Split(':'))
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
}
