using System.Buffers.Binary;
using System.Text;

namespace Scrun.Slurm.Wire;

/// <summary>
/// Packs Slurm's primitives: big-endian integers, <c>time_t</c> as int64, strings with their NUL
/// (NULL as length 0), string and integer arrays.
/// </summary>
public sealed class SlurmWriter
{
    private byte[] _buffer;
    private int _length;

    public SlurmWriter(int capacity = 256) => _buffer = new byte[Math.Max(capacity, 16)];

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public byte[] ToArray() => WrittenSpan.ToArray();

    public void WriteU8(byte value) => Reserve(1)[0] = value;

    public void WriteBool(bool value) => WriteU8(value ? (byte)1 : (byte)0);

    public void WriteU16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Reserve(2), value);

    public void WriteU32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Reserve(4), value);

    public void WriteU64(ulong value) => BinaryPrimitives.WriteUInt64BigEndian(Reserve(8), value);

    /// <summary><c>pack_time</c>: time_t widened to a signed 64-bit integer.</summary>
    public void WriteTime(long secondsSinceEpoch) => BinaryPrimitives.WriteInt64BigEndian(Reserve(8), secondsSinceEpoch);

    /// <summary><c>packstr</c>: u32 length counting the trailing NUL, the UTF-8 bytes, the NUL; NULL is length 0.</summary>
    public void WriteString(string? value)
    {
        if (value is null)
        {
            WriteU32(0);
            return;
        }
        var byteCount = Encoding.UTF8.GetByteCount(value);
        WriteU32((uint)(byteCount + 1));
        var span = Reserve(byteCount + 1);
        Encoding.UTF8.GetBytes(value, span);
        span[byteCount] = 0;
    }

    /// <summary><c>packmem</c>: u32 length, then the bytes.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteU32((uint)value.Length);
        WriteRaw(value);
    }

    public void WriteRaw(ReadOnlySpan<byte> value) => value.CopyTo(Reserve(value.Length));

    /// <summary><c>packstr_array</c>: u32 count, then each string; NULL and empty are both count 0.</summary>
    public void WriteStringArray(IReadOnlyList<string>? values)
    {
        WriteU32((uint)(values?.Count ?? 0));
        foreach (var value in values ?? [])
        {
            WriteString(value);
        }
    }

    public void WriteU16Array(IReadOnlyList<ushort>? values)
    {
        WriteU32((uint)(values?.Count ?? 0));
        foreach (var value in values ?? [])
        {
            WriteU16(value);
        }
    }

    public void WriteU32Array(IReadOnlyList<uint>? values)
    {
        WriteU32((uint)(values?.Count ?? 0));
        foreach (var value in values ?? [])
        {
            WriteU32(value);
        }
    }

    /// <summary>Overwrites a u32 written earlier (a length known only afterwards).</summary>
    public void PatchU32(int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(offset, 4), value);

    private Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
