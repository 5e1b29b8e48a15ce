using System.Buffers.Binary;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Auth;

/// <summary>
/// The payload Slurm puts in a MUNGE credential: hash type 2 (KangarooTwelve), then 32 bytes of
/// K12 over the message body with the message type (2 bytes, big-endian) as customization.
/// The receiver recomputes it, so a credential cannot be moved to another message.
/// </summary>
public static class MessageHash
{
    public const byte KangarooTwelveType = 2;
    public const int Length = 33;

    public static byte[] Compute(MessageType type, ReadOnlySpan<byte> body)
    {
        var hash = new byte[Length];
        hash[0] = KangarooTwelveType;
        Span<byte> customization = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(customization, (ushort)type);
        KangarooTwelve.Hash(body, customization, hash.AsSpan(1));
        return hash;
    }

    /// <summary>Whether a received payload is the hash of this message (the check slurmctld makes, done on callbacks).</summary>
    public static bool Matches(ReadOnlySpan<byte> payload, MessageType type, ReadOnlySpan<byte> body) =>
        payload.Length == Length && payload[0] == KangarooTwelveType && payload.SequenceEqual(Compute(type, body));
}
