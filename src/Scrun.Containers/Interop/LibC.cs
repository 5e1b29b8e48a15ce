using System.Runtime.InteropServices;

namespace Scrun.Containers.Interop;

/// <summary>The few libc calls .NET does not expose.</summary>
internal static partial class LibC
{
    public const int OPath = 0x200000;
    public const int ODirectory = 0x10000;
    public const int OCloexec = 0x80000;
    public const int ORdwr = 2;
    public const int ONoctty = 0x100;
    private const int FGetfd = 1;
    private const int FSetfd = 2;
    private const int FdCloexec = 1;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int pipe2(int* fds, int flags);

    /// <summary>A pipe whose write end a child inherits (the read end stays ours).</summary>
    public static unsafe (int Read, int Write) InheritablePipe()
    {
        var fds = stackalloc int[2];
        if (pipe2(fds, OCloexec) != 0)
        {
            throw new IOException($"pipe2: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        SetCloseOnExec(fds[1], false);
        return (fds[0], fds[1]);
    }

    public static void SetCloseOnExec(int fd, bool closeOnExec)
    {
        var flags = fcntl(fd, FGetfd, 0);
        if (flags >= 0)
        {
            fcntl(fd, FSetfd, closeOnExec ? flags | FdCloexec : flags & ~FdCloexec);
        }
    }

    /// <summary>Points stdin, stdout and stderr at /dev/null (a terminal container's stdio is its pty, not ours).</summary>
    public static void DetachStdio()
    {
        var devNull = open("/dev/null", ORdwr | OCloexec);
        if (devNull < 0)
        {
            return;
        }
        for (var fd = 0; fd <= 2; fd++)
        {
            dup2(devNull, fd);
        }
        close(devNull);
    }

    /// <summary>Marks every descriptor above stderr close-on-exec, so no child inherits what our caller passed us.</summary>
    public static void CloseExtraDescriptorsOnExec()
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), out var fd) && fd > 2)
            {
                var flags = fcntl(fd, FGetfd, 0);
                if (flags >= 0 && (flags & FdCloexec) == 0)
                {
                    fcntl(fd, FSetfd, flags | FdCloexec);
                }
            }
        }
    }

    /// <summary>Whether a process runs: it exists (signal 0) and is not a zombie waiting for its parent.</summary>
    public static bool IsAlive(int pid)
    {
        if (pid <= 0 || (kill(pid, 0) != 0 && Marshal.GetLastPInvokeError() != 1 /* EPERM */))
        {
            return false;
        }
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
