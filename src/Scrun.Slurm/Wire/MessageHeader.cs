namespace Scrun.Slurm.Wire;

/// <summary>
/// The header of every Slurm message. A client's is always 16 bytes: version, flags, type, body
/// length, no forwarding, no return list, no origin address.
/// </summary>
public readonly record struct MessageHeader(ProtocolVersion Version, ushort Flags, MessageType Type, uint BodyLength)
{
    /// <summary><c>SLURM_NO_AUTH_CRED</c> (24.11+): no auth section follows the header (set on replies).</summary>
    public const ushort NoAuthCredential = 0x0040;

    /// <summary><c>SLURM_PACK_ADDRS</c> (23.11+): a forwarded message carries a network credential.</summary>
    private const ushort PackAddresses = 0x0080;

    public bool HasAuthSection => (Flags & NoAuthCredential) == 0;

    public void Write(SlurmWriter writer)
    {
        writer.WriteU16(Version.Value);
        writer.WriteU16(Flags);
        writer.WriteU16((ushort)Type);
        writer.WriteU32(BodyLength);
        writer.WriteU16(0); // forward count
        writer.WriteU16(0); // return list count
        SlurmAddress.Write(writer, null);
    }

    public static MessageHeader Read(ref SlurmReader reader)
    {
        var version = new ProtocolVersion(reader.ReadU16());
        var flags = reader.ReadU16();
        var type = (MessageType)reader.ReadU16();
        var bodyLength = reader.ReadU32();
        if (reader.ReadU16() > 0)
        {
            reader.SkipString(); // node list
            reader.Skip(4 + 2); // timeout, tree width
            if (version >= ProtocolVersion.V23_11 && (flags & PackAddresses) != 0)
            {
                reader.SkipString(); // network credential
            }
            if (version >= ProtocolVersion.V24_11)
            {
                reader.Skip(2); // tree depth
            }
        }
        if (reader.ReadU16() > 0)
        {
            throw new SlurmProtocolException($"message type {(ushort)type} carries a return list, which a client never receives");
        }
        SlurmAddress.Read(ref reader);
        return new MessageHeader(version, flags, type, bodyLength);
    }
}
