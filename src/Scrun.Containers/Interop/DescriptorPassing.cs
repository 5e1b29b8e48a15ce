using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Scrun.Containers.Interop;

/// <summary>
/// Open descriptors sent along with bytes over a Unix stream socket (SCM_RIGHTS): an exec's
/// relay hands its stdio to the container's anchor this way, and a terminal's master goes to
/// the caller's --console-socket.
/// </summary>
internal static partial class DescriptorPassing
{
    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int MsgDontWait = 0x40;
    private const int MsgCmsgCloexec = 0x40000000;
    private const int MaximumDescriptors = 8;
    private const int HeaderLength = 16; // struct cmsghdr: length (size_t), level, type

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static unsafe partial nint SendMessage(nint socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static unsafe partial nint ReceiveMessage(nint socket, MessageHeader* message, int flags);

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    private static int ControlSpace(int count) => HeaderLength + ((count * sizeof(int) + 7) & ~7);

    /// <summary>Sends <paramref name="data"/> (not empty) with <paramref name="descriptors"/> attached, all of it or an exception.</summary>
    public static unsafe void Send(Socket socket, ReadOnlySpan<byte> data, IReadOnlyList<int> descriptors)
    {
        if (data.IsEmpty || descriptors.Count > MaximumDescriptors)
        {
            throw new ArgumentException("descriptors travel with at least one byte, and at most eight of them");
        }
        var space = ControlSpace(descriptors.Count);
        var control = stackalloc byte[space];
        new Span<byte>(control, space).Clear();
        *(nuint*)control = (nuint)(HeaderLength + descriptors.Count * sizeof(int));
        *(int*)(control + 8) = SolSocket;
        *(int*)(control + 12) = ScmRights;
        for (var i = 0; i < descriptors.Count; i++)
        {
            ((int*)(control + HeaderLength))[i] = descriptors[i];
        }
        fixed (byte* bytes = data)
        {
            var vector = new IoVector { Base = bytes, Length = (nuint)data.Length };
            var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = descriptors.Count > 0 ? control : null, ControlLength = descriptors.Count > 0 ? (nuint)space : 0 };
            var handle = socket.SafeHandle.DangerousGetHandle();
            var sent = SendMessage(handle, &message, 0);
            if (sent < 0)
            {
                throw new IOException(LibC.LastError());
            }
            if (sent < data.Length)
            {
                socket.Send(data[(int)sent..]); // the descriptors went with the first byte
            }
        }
    }

    /// <summary>
    /// Receives what is there (waiting until something is), into <paramref name="buffer"/>; the
    /// descriptors that came with it (close-on-exec) are added to <paramref name="descriptors"/>.
    /// 0 at the end of the stream.
    /// </summary>
    public static async Task<int> ReceiveAsync(Socket socket, Memory<byte> buffer, List<int> descriptors, CancellationToken cancellation)
    {
        while (true)
        {
            await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellation); // readable
            var received = TryReceive(socket, buffer.Span, descriptors, out var again);
            if (!again)
            {
                return received;
            }
        }
    }

    private static unsafe int TryReceive(Socket socket, Span<byte> buffer, List<int> descriptors, out bool again)
    {
        var space = ControlSpace(MaximumDescriptors);
        var control = stackalloc byte[space];
        fixed (byte* bytes = buffer)
        {
            var vector = new IoVector { Base = bytes, Length = (nuint)buffer.Length };
            var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = (nuint)space };
            var received = ReceiveMessage(socket.SafeHandle.DangerousGetHandle(), &message, MsgDontWait | MsgCmsgCloexec);
            if (received < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                again = error is 11 /* EAGAIN */ or 4 /* EINTR */;
                return again ? 0 : throw new IOException($"cannot read the anchor's socket: {Marshal.GetPInvokeErrorMessage(error)}");
            }
            again = false;
            var offset = 0;
            while (offset + HeaderLength <= (int)message.ControlLength)
            {
                var length = (int)*(nuint*)(control + offset);
                if (length < HeaderLength)
                {
                    break;
                }
                if (*(int*)(control + offset + 8) == SolSocket && *(int*)(control + offset + 12) == ScmRights)
                {
                    var count = (length - HeaderLength) / sizeof(int);
                    for (var i = 0; i < count; i++)
                    {
                        descriptors.Add(((int*)(control + offset + HeaderLength))[i]);
                    }
                }
                offset += (length + 7) & ~7;
            }
            return (int)received;
        }
    }
}
