namespace Scrun.Slurm.Steps;

/// <summary>
/// Reads stdio frames from an I/O connection once its <c>io_init_msg</c> has been read, however the
/// stream splits them. The stream stays the caller's.
/// </summary>
public sealed class IoFrameReader(Stream stream)
{
    private readonly byte[] _header = new byte[IoHeader.Size];

    /// <summary>The next frame, or null when the peer closed the connection between frames.</summary>
    public async ValueTask<IoFrame?> ReadAsync(CancellationToken cancellationToken = default)
    {
        var read = await stream.ReadAtLeastAsync(_header, IoHeader.Size, throwOnEndOfStream: false, cancellationToken);
        if (read == 0)
        {
            return null;
        }
        if (read < IoHeader.Size)
        {
            throw new SlurmProtocolException($"I/O connection closed {read} bytes into a {IoHeader.Size}-byte frame header");
        }
        var header = IoHeader.Read(_header);
        if (header.Length == 0)
        {
            return new IoFrame(header, ReadOnlyMemory<byte>.Empty);
        }
        var payload = new byte[header.Length];
        read = await stream.ReadAtLeastAsync(payload, payload.Length, throwOnEndOfStream: false, cancellationToken);
        if (read < payload.Length)
        {
            throw new SlurmProtocolException($"I/O connection closed {read} bytes into a {payload.Length}-byte {header.Type} payload");
        }
        return new IoFrame(header, payload);
    }
}
