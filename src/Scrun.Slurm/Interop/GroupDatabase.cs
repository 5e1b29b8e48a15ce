using System.Runtime.InteropServices;

namespace Scrun.Slurm.Interop;

/// <summary>Groups looked up through the C library, so NSS answers (files, LDAP, SSSD), as for users.</summary>
public static partial class GroupDatabase
{
    private const int BufferSize = 16384;

    /// <summary>The name of a gid; null when NSS has no entry.</summary>
    public static unsafe string? GroupName(uint gid)
    {
        var buffer = new byte[BufferSize];
        fixed (byte* scratch = buffer)
        {
            Group entry;
            nint result;
            return getgrgid_r(gid, &entry, scratch, (nuint)buffer.Length, &result) == 0 && result != 0 && entry.Name != 0
                ? Marshal.PtrToStringUTF8(entry.Name)
                : null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Group
    {
        public nint Name;
        public nint Password;
        public uint Gid;
        public nint Members;
    }

    [LibraryImport("libc")]
    private static unsafe partial int getgrgid_r(uint gid, Group* entry, byte* buffer, nuint size, nint* result);
}
