using System.Runtime.InteropServices;
using Scrun.Slurm.Interop;

namespace Scrun.Containers.Interop;

/// <summary>
/// The real root giving up its rights for good, to act for a user: what a user's files name (a
/// job, a path, a slurm.conf) may only be acted on with that user's rights.
/// </summary>
internal static partial class Privileges
{
    /// <summary>
    /// Becomes <paramref name="uid"/> for the rest of this process: its primary and supplementary
    /// groups from NSS (else <paramref name="fallbackGid"/> alone), then the uid, real, effective
    /// and saved. Root's own credentials in the environment (a JWT) are dropped with the rest.
    /// </summary>
    /// <exception cref="ContainerException">The process could not become that user.</exception>
    public static void Become(uint uid, uint fallbackGid)
    {
        var entry = PasswordDatabase.LookUp(uid);
        var gid = entry?.Gid ?? fallbackGid;
        if ((entry is { } known ? initgroups(known.Name, gid) : setgroups(0, 0)) != 0
            || setresgid(gid, gid, gid) != 0
            || setresuid(uid, uid, uid) != 0)
        {
            throw new ContainerException($"cannot act as uid {uid}: {LibC.LastError()}");
        }
        if (LibC.geteuid() != uid || ProcessIdentity.Current.Uid != uid)
        {
            throw new ContainerException($"cannot act as uid {uid}: still uid {LibC.geteuid()}");
        }
        Environment.SetEnvironmentVariable(Scrun.Slurm.SlurmClientSettings.JwtVariable, null);
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int initgroups(string user, uint group);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setgroups(nuint size, nint list);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setresgid(uint real, uint effective, uint saved);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setresuid(uint real, uint effective, uint saved);
}
