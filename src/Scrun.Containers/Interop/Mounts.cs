using System.Runtime.InteropServices;
using System.Text;

namespace Scrun.Containers.Interop;

/// <summary>Bind mounts for staged root filesystems, found and detached through /proc/self/mountinfo.</summary>
internal static partial class Mounts
{
    private const ulong MsBind = 4096;
    private const ulong MsRec = 16384;
    private const int MntDetach = 2;

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mount(string source, string target, string? type, ulong flags, nint data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Unmount(string target, int flags);

    /// <summary>
    /// Whether a bind mount this process makes is one the compute node sees: as real root, in the
    /// host's mount namespace. Podman runs the runtime of a container with uid mappings in a
    /// mount namespace of its own, whose mounts nothing outside sees.
    /// </summary>
    public static bool CanBindMount => Slurm.Interop.ProcessIdentity.Current.IsRealRoot && HostPaths.InHostMountNamespace();

    public static void Bind(string source, string target)
    {
        if (Mount(source, target, null, MsBind | MsRec, 0) != 0)
        {
            throw new IOException($"cannot bind-mount {source} on {target}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>Every mount point at or below <paramref name="directory"/>, deepest first.</summary>
    public static IReadOnlyList<string> Under(string directory)
    {
        var prefix = directory.TrimEnd('/') + "/";
        var mounts = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4)
            {
                var point = Unescape(fields[4]);
                if (point == directory.TrimEnd('/') || point.StartsWith(prefix, StringComparison.Ordinal))
                {
                    mounts.Add(point);
                }
            }
        }
        return mounts.OrderByDescending(m => m.Length).ToList();
    }

    /// <summary>
    /// Detaches everything mounted at or below <paramref name="realPath"/> (a path with its
    /// symbolic links resolved, as mountinfo lists mount points), deepest first.
    /// </summary>
    public static void UnmountUnder(string realPath, bool includingItself = true)
    {
        var top = realPath.TrimEnd('/');
        // Mounts may be stacked on one point: go on while each pass removes something.
        for (var previous = int.MaxValue; ;)
        {
            var mounts = Under(realPath).Where(m => includingItself || m != top).ToList();
            if (mounts.Count == 0 || mounts.Count >= previous)
            {
                return;
            }
            previous = mounts.Count;
            foreach (var point in mounts)
            {
                Unmount(point, MntDetach);
            }
        }
    }

    /// <summary>/proc/self/mountinfo writes space, tab, newline and backslash as octal escapes.</summary>
    private static string Unescape(string text)
    {
        if (!text.Contains('\\'))
        {
            return text;
        }
        var bytes = new List<byte>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 3 < text.Length)
            {
                bytes.Add(Convert.ToByte(text.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
