using System.Buffers.Binary;

namespace Scrun.Slurm.Steps;

/// <summary>
/// <c>pty_winsz_t</c>, one record on the unframed pty connection (<c>_notify_winsize_change</c>):
/// cols u16, then rows u16, big-endian.
/// </summary>
public readonly record struct WindowSize(ushort Columns, ushort Rows)
{
    public const int Size = 4;

    public byte[] Encode()
    {
        var record = new byte[Size];
        BinaryPrimitives.WriteUInt16BigEndian(record, Columns);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(2), Rows);
        return record;
    }

    /// <summary>slurmstepd's side (<c>_window_manager</c>), for fakes.</summary>
    public static WindowSize Decode(ReadOnlySpan<byte> record) =>
        record.Length == Size
            ? new WindowSize(BinaryPrimitives.ReadUInt16BigEndian(record), BinaryPrimitives.ReadUInt16BigEndian(record[2..]))
            : throw new SlurmProtocolException($"window size record of {record.Length} bytes; it is {Size}");
}
