using System.Runtime.InteropServices;
using Scrun.Slurm.Interop;

namespace Scrun.Containers.Interop;

/// <summary>The few libc calls .NET does not expose.</summary>
internal static partial class LibC
{
    public const int OPath = 0x200000;
    public const int ODirectory = 0x10000;
    public const int OCloexec = 0x80000;
    public const int ORdwr = 2;
    public const int ONoctty = 0x100;
    public const int ORdonly = 0;
    public const int ONofollow = 0x20000;
    public const int ONonblock = 0x800;
    public const int AtFdcwd = -100;
    public const int AtRemovedir = 0x200;
    public const int AtSymlinkNofollow = 0x100;
    public const int AtEmptyPath = 0x1000;
    public const int LockShared = 1;
    public const int LockExclusive = 2;
    public const int LockNonBlocking = 4;
    public const int Eintr = 4;
    public const int Eexist = 17;
    public const int Ewouldblock = 11;
    private const int FGetfd = 1;
    private const int FSetfd = 2;
    private const int FdCloexec = 1;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int openat(int directory, string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int dup(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdir(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlinkat(int directory, string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsid();

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int sigaction(int signal, byte* action, byte* previous);

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint SetSignalHandler(int signal, nint handler);

    private const nint IgnoreSignal = 1; // SIG_IGN
    private const nint DefaultSignal = 0; // SIG_DFL

    /// <summary>
    /// Which of <paramref name="signals"/> this process ignores (inherited from nohup or a shell's
    /// background job), set back to their default until the result is disposed: a child started
    /// meanwhile does not inherit the ignoring (the runtime installs no handler for an ignored signal).
    /// </summary>
    public static unsafe IDisposable StopIgnoring(params Signal[] signals)
    {
        var lifted = new List<Signal>();
        var current = stackalloc byte[256]; // struct sigaction is 152 bytes on x86-64; its handler comes first
        foreach (var signal in signals)
        {
            if (sigaction(signal.Number, null, current) == 0 && *(nint*)current == IgnoreSignal)
            {
                SetSignalHandler(signal.Number, DefaultSignal);
                lifted.Add(signal);
            }
        }
        return new IgnoredAgain(lifted);
    }

    private sealed class IgnoredAgain(List<Signal> signals) : IDisposable
    {
        public void Dispose() => signals.ForEach(signal => SetSignalHandler(signal.Number, IgnoreSignal));
    }

    public const short PollIn = 0x1;
    public const short PollError = 0x8;
    public const short PollHangUp = 0x10;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollDescriptor
    {
        public int Fd;
        public short Events;
        public short Returned;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial int poll(PollDescriptor* fds, nuint count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial nint read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);

    /// <summary>Whether this process may create files in <paramref name="directory"/> (write and search permission, a writable file system).</summary>
    public static bool CanWrite(string directory) => access(directory, 2 /* W_OK */ | 1 /* X_OK */) == 0;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint realpath(string path, nint resolved);

    [LibraryImport("libc")]
    private static partial void free(nint pointer);

    /// <summary>The path with every symbolic link, <c>.</c> and <c>..</c> resolved; null when it does not exist.</summary>
    public static string? RealPath(string path)
    {
        var resolved = realpath(path, 0);
        if (resolved == 0)
        {
            return null;
        }
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            free(resolved);
        }
    }

    /// <summary>strerror for the last failed call, e.g. "No space left on device".</summary>
    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    /// <summary>kill(2); false when the process is gone or not ours.</summary>
    public static bool SendSignal(int pid, Signal signal) => pid > 0 && kill(pid, signal.Number) == 0;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint syscall_pidfd(nint number, nint first, nint second, nint third, nint fourth);

    private const int SysPidfdOpen = 434;
    private const int SysPidfdSendSignal = 424;

    /// <summary>A descriptor that names process <paramref name="pid"/> for as long as it is open (pidfd_open(2)); -1 on failure.</summary>
    public static int PidfdOpen(int pid) => (int)syscall_pidfd(SysPidfdOpen, pid, 0, 0, 0);

    /// <summary>Sends <paramref name="signal"/> to the process <paramref name="pidfd"/> names, never to another that reused its pid.</summary>
    public static int PidfdSendSignal(int pidfd, Signal signal) => (int)syscall_pidfd(SysPidfdSendSignal, pidfd, signal.Number, 0, 0);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int execvp(string file, nint* argv);

    /// <summary>Replaces this process with <paramref name="arguments"/>[0] (a path, or a name looked up in PATH); returns only on failure.</summary>
    public static unsafe void Exec(IReadOnlyList<string> arguments)
    {
        var argv = new nint[arguments.Count + 1];
        for (var i = 0; i < arguments.Count; i++)
        {
            argv[i] = Marshal.StringToCoTaskMemUTF8(arguments[i]);
        }
        fixed (nint* pointer = argv)
        {
            execvp(arguments[0], pointer);
        }
        foreach (var allocated in argv)
        {
            Marshal.FreeCoTaskMem(allocated);
        }
    }

    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int pipe2(int* fds, int flags);

    /// <summary>dup2(2): <paramref name="target"/> becomes a copy of <paramref name="fd"/> (inherited by children).</summary>
    public static void MoveOnto(int fd, int target)
    {
        if (fd != target && dup2(fd, target) < 0)
        {
            throw new IOException($"dup2: {LastError()}");
        }
    }

    /// <summary>A pipe whose write end a child inherits (the read end stays ours).</summary>
    public static (int Read, int Write) InheritablePipe()
    {
        var (read, write) = Pipe();
        SetCloseOnExec(write, false);
        return (read, write);
    }

    /// <summary>A pipe private to this process (both ends close-on-exec).</summary>
    public static unsafe (int Read, int Write) Pipe()
    {
        var fds = stackalloc int[2];
        if (pipe2(fds, OCloexec) != 0)
        {
            throw new IOException($"pipe2: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        return (fds[0], fds[1]);
    }

    private const int FDupfdCloexec = 1030;

    /// <summary>A second descriptor for what <paramref name="fd"/> names (its locks included), close-on-exec; -1 on failure.</summary>
    public static int DuplicateCloseOnExec(int fd) => fcntl(fd, FDupfdCloexec, 3);

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
