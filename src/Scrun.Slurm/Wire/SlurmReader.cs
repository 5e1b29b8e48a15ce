using System.Buffers.Binary;
using System.Text;
using Scrun.Slurm.Interop;

namespace Scrun.Slurm.Wire;

/// <summary>
/// Unpacks Slurm's primitives from a buffer, bounds-checked: truncated or hostile input raises
/// <see cref="SlurmProtocolException"/>, never an out-of-range access or an allocation larger
/// than the buffer itself could describe.
/// </summary>
public ref struct SlurmReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    public SlurmReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _buffer.Length - _position;

    public readonly ReadOnlySpan<byte> RemainingSpan => _buffer[_position..];

    public byte ReadU8() => Take(1, "u8")[0];

    public bool ReadBool() => ReadU8() != 0;

    public ushort ReadU16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2, "u16"));

    public uint ReadU32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4, "u32"));

    /// <summary>A signal as Slurm packs it (u16); refused unless it is one.</summary>
    public Signal ReadSignal()
    {
        var number = ReadU16();
        return Signal.FromNumber(number) ?? throw new SlurmProtocolException($"{number} at offset {_position - 2} is not a signal");
    }

    public ulong ReadU64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8, "u64"));

    public long ReadTime() => BinaryPrimitives.ReadInt64BigEndian(Take(8, "time"));

    /// <summary><c>unpackstr</c>: length 0 is NULL; otherwise the bytes must end with a NUL.</summary>
    public string? ReadString()
    {
        var length = ReadLength("string", minimumElementSize: 1);
        if (length == 0)
        {
            return null;
        }
        var bytes = Take(length, "string");
        if (bytes[^1] != 0)
        {
            throw new SlurmProtocolException($"string at offset {_position - length} is not NUL-terminated");
        }
        return Encoding.UTF8.GetString(bytes[..^1]);
    }

    /// <summary><c>unpackmem</c>: u32 length, then that many bytes.</summary>
    public ReadOnlySpan<byte> ReadBytes() => Take(ReadLength("bytes", minimumElementSize: 1), "bytes");

    public ReadOnlySpan<byte> ReadRaw(int count) => Take(count, "bytes");

    public string[] ReadStringArray()
    {
        var count = ReadLength("string array", minimumElementSize: 4);
        var values = new string[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = ReadString() ?? string.Empty;
        }
        return values;
    }

    public ushort[] ReadU16Array()
    {
        var count = ReadLength("u16 array", minimumElementSize: 2);
        var values = new ushort[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = ReadU16();
        }
        return values;
    }

    public uint[] ReadU32Array()
    {
        var count = ReadLength("u32 array", minimumElementSize: 4);
        var values = new uint[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = ReadU32();
        }
        return values;
    }

    public void Skip(int count) => Take(count, "skipped bytes");

    public void SkipString() => Take(ReadLength("string", minimumElementSize: 1), "string");

    /// <summary>Fails unless every byte was consumed: a body must be exactly as long as its fields.</summary>
    public readonly void EnsureConsumed(string what)
    {
        if (Remaining != 0)
        {
            throw new SlurmProtocolException($"{what}: {Remaining} unexpected bytes after the last field");
        }
    }

    /// <summary>A count or length, refused when the rest of the buffer could not hold that many elements.</summary>
    private int ReadLength(string what, int minimumElementSize)
    {
        var count = ReadU32();
        if (count > (uint)(Remaining / minimumElementSize))
        {
            throw new SlurmProtocolException($"{what} at offset {_position - 4} claims {count} elements but only {Remaining} bytes remain");
        }
        return (int)count;
    }

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count < 0 || count > Remaining)
        {
            throw new SlurmProtocolException($"truncated message: {what} at offset {_position} needs {count} bytes, {Remaining} remain");
        }
        var span = _buffer.Slice(_position, count);
        _position += count;
        return span;
    }
}
