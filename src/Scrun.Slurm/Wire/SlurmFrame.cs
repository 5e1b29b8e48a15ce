using System.Buffers.Binary;
using Scrun.Slurm.Auth;

namespace Scrun.Slurm.Wire;

/// <summary>A received message: its header, its auth section (absent on 24.11+ replies) and its body.</summary>
public sealed record SlurmMessage(MessageHeader Header, AuthCredential? Credential, byte[] Body)
{
    public MessageType Type => Header.Type;

    public ProtocolVersion Version => Header.Version;
}

/// <summary>
/// Slurm's framing: a u32 length (of what follows), the header, the auth section, the body.
/// The body is packed first because the credential carries its hash.
/// </summary>
public static class SlurmFrame
{
    /// <summary>Far above any reply scrun asks for; Slurm's own limit is 1 GiB.</summary>
    public const int MaxFrameLength = 64 * 1024 * 1024;

    public const int LengthPrefixSize = 4;

    public static byte[] Encode(ProtocolVersion version, MessageType type, ReadOnlySpan<byte> body, AuthCredential? credential, ushort flags = 0)
    {
        var writer = new SlurmWriter(64 + body.Length + 256);
        writer.WriteU32(0); // length, patched below
        new MessageHeader(version, flags, type, (uint)body.Length).Write(writer);
        credential?.Write(writer);
        writer.WriteRaw(body);
        writer.PatchU32(0, (uint)(writer.Length - LengthPrefixSize));
        return writer.ToArray();
    }

    /// <summary>The length a frame's 4-byte prefix announces, validated.</summary>
    public static int ReadLengthPrefix(ReadOnlySpan<byte> prefix)
    {
        if (prefix.SequenceEqual("HTTP"u8))
        {
            throw new SlurmVersionMismatchException(null, "the controller answered with HTTP: it does not speak this protocol version (26.05 and later reply so)");
        }
        var length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        if (length < 16 || length > MaxFrameLength)
        {
            throw new SlurmProtocolException($"frame length {length} is outside 16..{MaxFrameLength}");
        }
        return (int)length;
    }

    /// <summary>Decodes the bytes after the length prefix.</summary>
    public static SlurmMessage Decode(ReadOnlySpan<byte> frame)
    {
        var reader = new SlurmReader(frame);
        var header = MessageHeader.Read(ref reader);
        var credential = header.HasAuthSection ? AuthCredential.Read(ref reader) : null;
        if (header.BodyLength != reader.Remaining)
        {
            throw new SlurmProtocolException($"header announces a {header.BodyLength}-byte body but {reader.Remaining} bytes follow");
        }
        return new SlurmMessage(header, credential, reader.RemainingSpan.ToArray());
    }
}
