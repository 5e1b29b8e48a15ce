using System.Globalization;

namespace Scrun.Containers.Interop;

/// <summary>
/// Which ids this process's uid and gid are outside its user namespace (a rootless engine calls
/// its runtime as uid 0 inside one): the ids the node sees. Whether there is one is
/// <see cref="Scrun.Slurm.Interop.ProcessIdentity.InUserNamespace"/>'s to say.
/// </summary>
internal static class UserNamespace
{
    /// <summary>This process's uid and gid as the parent namespace knows them; null outside any user namespace.</summary>
    public static (uint Uid, uint Gid)? OutsideIds()
    {
        var identity = Scrun.Slurm.Interop.ProcessIdentity.Current; // which already knows whether there is a namespace
        return identity.InUserNamespace
            ? OutsideIds(Read("/proc/self/uid_map"), Read("/proc/self/gid_map"), identity.Uid, identity.Gid)
            : null;
    }

    /// <summary>This process's uid is another one outside its user namespace (root of a rootless engine's): a uid it sends means nothing to Slurm.</summary>
    public static bool UidDiffersOutside() => OutsideIds() is { } outside && outside.Uid != Scrun.Slurm.Interop.ProcessIdentity.Current.Uid;

    /// <summary>The ids <paramref name="uid"/>/<paramref name="gid"/> map to in <paramref name="uidMap"/>/<paramref name="gidMap"/>; null when a map is unreadable or does not hold them.</summary>
    public static (uint Uid, uint Gid)? OutsideIds(string? uidMap, string? gidMap, uint uid, uint gid)
    {
        if (uidMap is null || gidMap is null)
        {
            return null;
        }
        return Map(uidMap, uid) is { } outsideUid && Map(gidMap, gid) is { } outsideGid ? (outsideUid, outsideGid) : null;
    }

    private static uint? Map(string map, uint id)
    {
        foreach (var (inside, outside, count) in Lines(map))
        {
            if (id >= inside && id - inside < count)
            {
                return outside + (id - inside);
            }
        }
        return null;
    }

    private static IEnumerable<(uint Inside, uint Outside, uint Count)> Lines(string map) =>
        map.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length == 3)
            .Select(fields => (uint.Parse(fields[0], CultureInfo.InvariantCulture), uint.Parse(fields[1], CultureInfo.InvariantCulture), uint.Parse(fields[2], CultureInfo.InvariantCulture)));

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
