using System.Buffers.Binary;
using System.Security.Cryptography;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Steps;

/// <summary>
/// <c>io_init_msg</c>, the first bytes slurmstepd sends on an I/O connection (<c>io_init_msg_pack</c>):
/// u32 length of what follows, u16 version, u32 nodeid, u32 stdout_objs, u32 stderr_objs, and the
/// <c>io_key</c>, which is the step credential's signature with its NUL.
/// </summary>
/// <remarks>
/// The key is a <c>packmem</c> up to 23.02 and a <c>packstr</c> from 23.11. Which one depends on
/// slurmstepd's release, not on <see cref="Version"/> (from 23.02 that is the launch's version), but
/// for a NUL-terminated key the two are the same bytes. A <c>packstr</c> is told apart by its
/// required NUL, so a key is only held to that when the version says 23.11 or later.
/// </remarks>
public sealed record IoInitMessage(ProtocolVersion Version, uint NodeId, uint StdoutObjects, uint StderrObjects, byte[] Key)
{
    public const int LengthPrefixSize = 4;

    /// <summary>Version, node id, both counts and an empty key's length.</summary>
    public const int MinBodyLength = 2 + 4 + 4 + 4 + 4;

    /// <summary>Far above a real message (a MUNGE signature is about 600 bytes), low enough that a stranger cannot make us allocate much.</summary>
    public const int MaxBodyLength = 64 * 1024;

    private bool KeyIsString => Version >= ProtocolVersion.V23_11;

    /// <summary>Reads exactly one message from a fresh I/O connection; the stream stays the caller's.</summary>
    public static async Task<IoInitMessage> ReadAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        var prefix = new byte[LengthPrefixSize];
        var read = await stream.ReadAtLeastAsync(prefix, prefix.Length, throwOnEndOfStream: false, cancellationToken);
        if (read < prefix.Length)
        {
            throw new SlurmProtocolException($"I/O connection closed after {read} bytes, before its io_init_msg length");
        }
        var message = new byte[LengthPrefixSize + ReadBodyLength(prefix)];
        prefix.CopyTo(message, 0);
        read = await stream.ReadAtLeastAsync(message.AsMemory(LengthPrefixSize), message.Length - LengthPrefixSize, throwOnEndOfStream: false, cancellationToken);
        if (read < message.Length - LengthPrefixSize)
        {
            throw new SlurmProtocolException($"I/O connection closed {read} bytes into a {message.Length - LengthPrefixSize}-byte io_init_msg");
        }
        return Decode(message);
    }

    /// <summary>Decodes a whole message, length prefix included; every byte must belong to a field.</summary>
    public static IoInitMessage Decode(ReadOnlySpan<byte> message)
    {
        if (message.Length < LengthPrefixSize)
        {
            throw new SlurmProtocolException($"io_init_msg of {message.Length} bytes has no length prefix");
        }
        var bodyLength = ReadBodyLength(message);
        if (bodyLength != message.Length - LengthPrefixSize)
        {
            throw new SlurmProtocolException($"io_init_msg announces {bodyLength} bytes but {message.Length - LengthPrefixSize} follow");
        }
        var reader = new SlurmReader(message[LengthPrefixSize..]);
        var version = new ProtocolVersion(reader.ReadU16());
        var nodeId = reader.ReadU32();
        var stdoutObjects = reader.ReadU32();
        var stderrObjects = reader.ReadU32();
        var key = reader.ReadBytes().ToArray();
        reader.EnsureConsumed("io_init_msg");
        var decoded = new IoInitMessage(version, nodeId, stdoutObjects, stderrObjects, key);
        if (decoded.KeyIsString && key.Length > 0 && key[^1] != 0)
        {
            throw new SlurmProtocolException($"io_init_msg key of {key.Length} bytes is not NUL-terminated, as a {version} string must be");
        }
        return decoded;
    }

    public byte[] Encode()
    {
        if (KeyIsString && Key.Length > 0 && Key[^1] != 0)
        {
            throw new InvalidOperationException($"a {Version} io_init_msg packs its key as a string, which must end with its NUL");
        }
        var writer = new SlurmWriter(LengthPrefixSize + MinBodyLength + Key.Length);
        writer.WriteU32(0); // length, patched below
        writer.WriteU16(Version.Value);
        writer.WriteU32(NodeId);
        writer.WriteU32(StdoutObjects);
        writer.WriteU32(StderrObjects);
        writer.WriteBytes(Key);
        writer.PatchU32(0, (uint)(writer.Length - LengthPrefixSize));
        return writer.ToArray();
    }

    /// <summary>
    /// srun's checks (<c>io_init_msg_validate</c> and <c>_read_io_init_msg</c>): a version Slurm still
    /// speaks, the key of this step byte for byte, and a node of this step. Null when all hold,
    /// otherwise why not. From 26.11 (0x2E00) slurmstepd sends a hash of the key, which the caller
    /// would have to pass as <paramref name="expectedKey"/>.
    /// </summary>
    public string? Validate(ReadOnlySpan<byte> expectedKey, int nodeCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nodeCount);
        if (Version < ProtocolVersion.V22_05)
        {
            return $"protocol version 0x{Version.Value:X4} is older than 22.05";
        }
        if (!CryptographicOperations.FixedTimeEquals(Key, expectedKey))
        {
            return "I/O key is not the step credential's signature";
        }
        if (NodeId >= (uint)nodeCount)
        {
            return $"node id {NodeId} is not one of the step's {nodeCount} nodes";
        }
        return null;
    }

    private static int ReadBodyLength(ReadOnlySpan<byte> prefix)
    {
        var length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        if (length < MinBodyLength || length > MaxBodyLength)
        {
            throw new SlurmProtocolException($"io_init_msg length {length} is outside {MinBodyLength}..{MaxBodyLength}");
        }
        return (int)length;
    }
}
