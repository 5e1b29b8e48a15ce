using System.Runtime.InteropServices;

namespace Scrun.Slurm.Interop;

/// <summary>Who this process is, as the kernel and the user namespace see it.</summary>
public sealed record ProcessIdentity(uint Uid, uint Gid, bool InUserNamespace)
{
    private static readonly bool s_inUserNamespace = ReadInUserNamespace();

    /// <summary>Who this process is now (the real root may have become the user it acts for).</summary>
    public static ProcessIdentity Current => new(LibC.getuid(), LibC.getgid(), s_inUserNamespace);

    /// <summary>The machine's root, not a user namespace's: it may bind-mount, and act on anyone's containers.</summary>
    public bool IsRealRoot => Uid == 0 && !InUserNamespace;

    /// <summary>Root inside a rootless engine's user namespace: the real user is only known to munged.</summary>
    public bool IsNamespacedRoot => Uid == 0 && InUserNamespace;

    private static bool ReadInUserNamespace()
    {
        try
        {
            var map = File.ReadAllText("/proc/self/uid_map").Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return map is not ["0", "0", "4294967295"];
        }
        catch (IOException)
        {
            return false;
        }
    }
}

internal static partial class LibC
{
    [LibraryImport("libc", SetLastError = false)]
    internal static partial uint getuid();

    [LibraryImport("libc", SetLastError = false)]
    internal static partial uint getgid();
}
