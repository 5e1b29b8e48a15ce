using System.Net.Sockets;
using System.Runtime.InteropServices;
using Scrun.Containers.Interop;

namespace Scrun.Containers.Control;

/// <summary>The anchor's Unix socket address, shortened through the directory's descriptor when too long for <c>sun_path</c>.</summary>
internal static class AnchorSocket
{
    /// <summary>Runs <paramref name="action"/> with an endpoint for the socket that is valid during the call.</summary>
    public static T WithEndPoint<T>(ContainerPaths paths, Func<UnixDomainSocketEndPoint, T> action)
    {
        if (!paths.SocketNeedsAlias)
        {
            return action(new UnixDomainSocketEndPoint(paths.Socket));
        }
        var directory = LibC.open(paths.Directory, LibC.OPath | LibC.ODirectory | LibC.OCloexec);
        if (directory < 0)
        {
            throw new DirectoryNotFoundException($"{paths.Directory}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        try
        {
            return action(new UnixDomainSocketEndPoint(paths.SocketAddress(directory)));
        }
        finally
        {
            LibC.close(directory);
        }
    }

    /// <summary>The uid of the process at the other end (SO_PEERCRED).</summary>
    public static uint PeerUid(Socket socket)
    {
        Span<byte> credentials = stackalloc byte[12]; // pid, uid, gid
        socket.GetRawSocketOption(1 /* SOL_SOCKET */, 17 /* SO_PEERCRED */, credentials);
        return BitConverter.ToUInt32(credentials[4..8]);
    }
}
