using System.Runtime.InteropServices;

namespace Scrun.Slurm.Interop;

/// <summary>
/// Users looked up through the C library, so NSS answers (files, LDAP, SSSD: what HPC sites use),
/// not a parse of /etc/passwd.
/// </summary>
public static partial class PasswordDatabase
{
    private const int BufferSize = 16384;

    /// <summary>The uid of a user name; null when NSS knows no such user.</summary>
    public static unsafe uint? LookUpUid(string user)
    {
        var buffer = new byte[BufferSize];
        fixed (byte* scratch = buffer)
        {
            Passwd entry;
            nint result;
            return getpwnam_r(user, &entry, scratch, (nuint)buffer.Length, &result) == 0 && result != 0 ? entry.Uid : null;
        }
    }

    /// <summary>The name and primary group of a uid; null when NSS has no entry.</summary>
    public static unsafe (string Name, uint Gid)? LookUp(uint uid)
    {
        var buffer = new byte[BufferSize];
        fixed (byte* scratch = buffer)
        {
            Passwd entry;
            nint result;
            return getpwuid_r(uid, &entry, scratch, (nuint)buffer.Length, &result) == 0 && result != 0 && entry.Name != 0
                ? (Marshal.PtrToStringUTF8(entry.Name)!, entry.Gid)
                : null;
        }
    }

    /// <summary>The name of a uid; the number itself when NSS has no entry (a uid of a user namespace, say).</summary>
    public static string UserName(uint uid) => LookUp(uid)?.Name ?? uid.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [StructLayout(LayoutKind.Sequential)]
    private struct Passwd
    {
        public nint Name;
        public nint Password;
        public uint Uid;
        public uint Gid;
        public nint Gecos;
        public nint Directory;
        public nint Shell;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int getpwnam_r(string name, Passwd* entry, byte* buffer, nuint size, nint* result);

    [LibraryImport("libc")]
    private static unsafe partial int getpwuid_r(uint uid, Passwd* entry, byte* buffer, nuint size, nint* result);
}
