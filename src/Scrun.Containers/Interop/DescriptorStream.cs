using System.Runtime.InteropServices;

namespace Scrun.Containers.Interop;

/// <summary>
/// Writes straight to a descriptor with write(2), at the file's shared offset. A FileStream over
/// a regular file keeps an offset of its own (pwrite), so when stderr is a file that create and
/// the anchor share, one would overwrite the other's lines. Reads with read(2), EINTR retried,
/// the descriptor's end (or its failure) read as the end of the stream.
/// </summary>
public sealed unsafe partial class DescriptorStream(int fd) : Stream
{
    private const int Eintr = 4;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* data = buffer)
        {
            for (var done = 0; done < buffer.Length;)
            {
                var written = write(fd, data + done, (nuint)(buffer.Length - done));
                if (written < 0 && Marshal.GetLastPInvokeError() == Eintr)
                {
                    continue;
                }
                if (written <= 0)
                {
                    return; // the reader is gone: what the container would have said is lost, not the container
                }
                done += (int)written;
            }
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        fixed (byte* data = buffer)
        {
            while (true)
            {
                var count = LibC.read(fd, data, (nuint)buffer.Length);
                if (count < 0 && Marshal.GetLastPInvokeError() == Eintr)
                {
                    continue;
                }
                return count < 0 ? 0 : (int)count; // EIO: a terminal whose other side has closed
            }
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buffer, nuint count);
}
