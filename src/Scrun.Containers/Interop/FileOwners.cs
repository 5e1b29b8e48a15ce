using System.Globalization;

namespace Scrun.Containers.Interop;

/// <summary>Whose files scrun may trust, as this process sees owners.</summary>
internal static class FileOwners
{
    private static readonly Lazy<uint?> s_overflowUid = new(() =>
    {
        try
        {
            return uint.Parse(File.ReadAllText("/proc/sys/kernel/overflowuid").Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    });

    /// <summary>
    /// Whether a directory owned by <paramref name="uid"/> may hold what scrun makes: ours, or
    /// root's. Inside a rootless engine's user namespace root's files show as the overflow uid
    /// (nobody), as do those of every other unmapped user: sticky shared directories are root's
    /// in practice, and are taken as such.
    /// </summary>
    public static bool MayHold(uint uid) =>
        uid == LibC.geteuid() || uid == 0
        || (Slurm.Interop.ProcessIdentity.Current.InUserNamespace && uid == s_overflowUid.Value);
}
