using System.Buffers.Binary;

namespace Scrun.Slurm.Steps;

/// <summary>
/// <c>io_hdr_t</c>, the 10-byte header of every stdio frame after the <c>io_init_msg</c>
/// (<c>io_hdr_pack</c>): type u16, gtaskid u16, ltaskid u16, length u32, all big-endian.
/// </summary>
public readonly record struct IoHeader(IoStreamType Type, ushort GlobalTaskId, ushort LocalTaskId, uint Length)
{
    public const int Size = 10;

    /// <summary>
    /// <c>SLURM_IO_MAX_MSG_LEN</c>: slurmstepd never sends more in one frame (it reads task output
    /// into buffers of this size) and srun never writes more.
    /// </summary>
    public const int MaxPayload = 1024;

    /// <summary>The task ids of an <see cref="IoStreamType.AllStdin"/> frame: <c>(uint16_t)-1</c>, no task in particular.</summary>
    public const ushort AllTasks = 0xFFFF;

    /// <summary>An empty data frame ends its stream; an empty connection test is just a connection test.</summary>
    public bool IsEndOfStream => Length == 0 && Type != IoStreamType.ConnectionTest;

    /// <summary>Packs the header as is; nothing is checked, so a fake peer can send a hostile one.</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"an I/O header needs {Size} bytes", nameof(destination));
        }
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)Type);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], GlobalTaskId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], LocalTaskId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], Length);
    }

    /// <summary>
    /// Unpacks a header, refusing what no Slurm peer sends: an unknown type (slurmstepd itself refuses
    /// them from 24.11), a payload over <see cref="MaxPayload"/>, a connection test with a payload.
    /// </summary>
    public static IoHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            throw new SlurmProtocolException($"truncated I/O header: {source.Length} of {Size} bytes");
        }
        var type = BinaryPrimitives.ReadUInt16BigEndian(source);
        var length = BinaryPrimitives.ReadUInt32BigEndian(source[6..]);
        if (type > (ushort)IoStreamType.ConnectionTest)
        {
            throw new SlurmProtocolException($"unknown I/O frame type {type}");
        }
        if (length > MaxPayload)
        {
            throw new SlurmProtocolException($"I/O frame of {length} bytes exceeds the {MaxPayload}-byte maximum");
        }
        if (type == (ushort)IoStreamType.ConnectionTest && length != 0)
        {
            throw new SlurmProtocolException($"connection test frame carries {length} bytes; it must be empty");
        }
        return new IoHeader(
            (IoStreamType)type,
            BinaryPrimitives.ReadUInt16BigEndian(source[2..]),
            BinaryPrimitives.ReadUInt16BigEndian(source[4..]),
            length);
    }
}
