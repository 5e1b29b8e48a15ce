namespace Scrun.Slurm.Steps;

/// <summary>
/// Writes stdio frames, each with one write as slurmstepd does, split into payloads of at most
/// <see cref="IoHeader.MaxPayload"/> bytes. Empty data writes nothing: the end of a stream is
/// always an explicit empty frame.
/// </summary>
public static class IoFrameWriter
{
    /// <summary>Client side: <c>SLURM_IO_ALLSTDIN</c> frames for every task, as srun sends stdin.</summary>
    public static Task WriteStdinAsync(Stream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        WriteChunkedAsync(stream, IoStreamType.AllStdin, IoHeader.AllTasks, IoHeader.AllTasks, data, cancellationToken);

    /// <summary>Client side: the empty <c>SLURM_IO_ALLSTDIN</c> frame that closes the tasks' stdin.</summary>
    public static Task WriteStdinEndAsync(Stream stream, CancellationToken cancellationToken = default) =>
        WriteHeaderAsync(stream, new IoHeader(IoStreamType.AllStdin, IoHeader.AllTasks, IoHeader.AllTasks, 0), cancellationToken);

    /// <summary>Either side: an empty <c>SLURM_IO_CONNECTION_TEST</c> (task ids 0, unused).</summary>
    public static Task WriteConnectionTestAsync(Stream stream, CancellationToken cancellationToken = default) =>
        WriteHeaderAsync(stream, new IoHeader(IoStreamType.ConnectionTest, 0, 0, 0), cancellationToken);

    /// <summary>slurmstepd's side (for fakes): a task's stdout or stderr.</summary>
    public static Task WriteOutputAsync(
        Stream stream, IoStreamType type, ReadOnlyMemory<byte> data,
        ushort globalTaskId = 0, ushort localTaskId = 0, CancellationToken cancellationToken = default) =>
        WriteChunkedAsync(stream, RequireOutput(type), globalTaskId, localTaskId, data, cancellationToken);

    /// <summary>slurmstepd's side (for fakes): the empty frame that ends one stdout or stderr stream.</summary>
    public static Task WriteOutputEndAsync(
        Stream stream, IoStreamType type, ushort globalTaskId = 0, ushort localTaskId = 0, CancellationToken cancellationToken = default) =>
        WriteHeaderAsync(stream, new IoHeader(RequireOutput(type), globalTaskId, localTaskId, 0), cancellationToken);

    private static IoStreamType RequireOutput(IoStreamType type) =>
        type is IoStreamType.Stdout or IoStreamType.Stderr
            ? type
            : throw new ArgumentOutOfRangeException(nameof(type), type, "task output is stdout or stderr");

    private static async Task WriteChunkedAsync(
        Stream stream, IoStreamType type, ushort globalTaskId, ushort localTaskId, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var frame = new byte[IoHeader.Size + Math.Min(data.Length, IoHeader.MaxPayload)];
        for (var offset = 0; offset < data.Length; offset += IoHeader.MaxPayload)
        {
            var chunk = data.Slice(offset, Math.Min(IoHeader.MaxPayload, data.Length - offset));
            new IoHeader(type, globalTaskId, localTaskId, (uint)chunk.Length).Write(frame);
            chunk.Span.CopyTo(frame.AsSpan(IoHeader.Size));
            await stream.WriteAsync(frame.AsMemory(0, IoHeader.Size + chunk.Length), cancellationToken);
        }
    }

    private static async Task WriteHeaderAsync(Stream stream, IoHeader header, CancellationToken cancellationToken)
    {
        var frame = new byte[IoHeader.Size];
        header.Write(frame);
        await stream.WriteAsync(frame, cancellationToken);
    }
}
