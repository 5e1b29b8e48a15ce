using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Scrun.Containers.Interop;

/// <summary>
/// A pseudo-terminal for <c>process.terminal</c>: the master goes to the caller's
/// <c>--console-socket</c> (SCM_RIGHTS, as runc does), the slave becomes srun's terminal; and
/// the terminal calls the relay and the step's side make (size, raw mode, controlling terminal).
/// </summary>
internal static unsafe partial class Terminal
{
    private const uint TiocGetWindowSize = 0x5413;
    private const uint TiocSetWindowSize = 0x5414;
    private const uint TiocSetControllingTty = 0x540E;

    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    private static partial int OpenMaster(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt", SetLastError = true)]
    private static partial int Grant(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt", SetLastError = true)]
    private static partial int Unlock(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname_r", SetLastError = true)]
    private static partial int SlaveName(int fd, byte* buffer, nuint length);

    /// <summary>Opens a pty pair: the master's descriptor and the slave's path (/dev/pts/N).</summary>
    public static (int Master, string Slave) Open()
    {
        var master = OpenMaster(LibC.ORdwr | LibC.ONoctty | LibC.OCloexec);
        if (master < 0 || Grant(master) != 0 || Unlock(master) != 0)
        {
            throw new IOException($"cannot open a pseudo-terminal: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        var name = stackalloc byte[128];
        if (SlaveName(master, name, 128) != 0)
        {
            LibC.close(master);
            throw new IOException($"cannot name the pseudo-terminal: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        return (master, Marshal.PtrToStringUTF8((nint)name)!);
    }

    /// <summary>Sends <paramref name="fd"/> over the Unix socket at <paramref name="socketPath"/>, with a one-byte payload.</summary>
    public static void SendDescriptor(string socketPath, int fd)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        try
        {
            DescriptorPassing.Send(socket, [0], [fd]);
        }
        catch (IOException e)
        {
            throw new IOException($"cannot send the terminal to {socketPath}: {e.Message}");
        }
    }

    /// <summary>Makes the terminal <paramref name="fd"/> is open on the controlling terminal of this process, a session leader without one.</summary>
    public static void MakeControlling(int fd) => ioctl(fd, TiocSetControllingTty, null);

    /// <summary>Gives the terminal <paramref name="to"/> the size of the terminal <paramref name="from"/>; false when either will not.</summary>
    public static bool CopyWindowSize(int from, int to)
    {
        var size = stackalloc ushort[4];
        return ioctl(from, TiocGetWindowSize, size) == 0 && ioctl(to, TiocSetWindowSize, size) == 0;
    }

    /// <summary>The size of the terminal <paramref name="fd"/> is open on; null when it is none.</summary>
    public static (ushort Columns, ushort Rows)? WindowSizeOf(int fd)
    {
        var size = stackalloc ushort[4]; // struct winsize: rows, columns, then pixels
        return ioctl(fd, TiocGetWindowSize, size) == 0 && size[0] > 0 && size[1] > 0 ? (size[1], size[0]) : null;
    }

    /// <summary>No echo, no line editing, no signals from keys: the line discipline that counts is the container's, on the node.</summary>
    public static void MakeRaw(int fd)
    {
        var attributes = stackalloc byte[64]; // struct termios is 60 bytes on Linux
        if (tcgetattr(fd, attributes) == 0)
        {
            cfmakeraw(attributes);
            tcsetattr(fd, 0 /* TCSANOW */, attributes);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcgetattr(int fd, byte* attributes);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcsetattr(int fd, int when, byte* attributes);

    [LibraryImport("libc")]
    private static partial void cfmakeraw(byte* attributes);
}
