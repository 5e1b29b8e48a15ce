using System.Runtime.InteropServices;

namespace Scrun.Slurm.Interop;

/// <summary>This process's resource limits, file mode mask and scheduling priority, as the C library reports them.</summary>
internal static partial class ProcessSettings
{
    private const int PrioProcess = 0;

    /// <summary>The soft limit of an <c>RLIMIT_*</c> resource (<see cref="ulong.MaxValue"/> is unlimited); null when the kernel will not say.</summary>
    public static ulong? SoftLimit(int resource) => getrlimit(resource, out var limit) == 0 ? limit.Current : null;

    /// <summary>The nice value; null when the kernel will not say (-1 is a valid value, so errno decides).</summary>
    public static int? Priority()
    {
        var priority = getpriority(PrioProcess, 0);
        return priority == -1 && Marshal.GetLastPInvokeError() != 0 ? null : priority;
    }

    /// <summary>
    /// The file mode creation mask, read from /proc (umask(2) can only be read by setting it,
    /// which races with threads creating files); umask(2) where /proc does not say.
    /// </summary>
    public static uint Umask()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Umask:", StringComparison.Ordinal))
                {
                    return Convert.ToUInt32(line["Umask:".Length..].Trim(), 8);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        var mask = umask(0);
        umask(mask);
        return mask;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc")]
    private static partial int getrlimit(int resource, out ResourceLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getpriority(int which, uint who);

    [LibraryImport("libc")]
    private static partial uint umask(uint mask);
}
