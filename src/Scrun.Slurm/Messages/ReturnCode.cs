using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Messages;

/// <summary><c>RESPONSE_SLURM_RC</c> (8001) and <c>RESPONSE_SLURM_RC_MSG</c> (8002): an error number and, in the latter, a text.</summary>
public sealed record ReturnCode(int Value, string? Message = null) : ISlurmRequest, ISlurmReply<ReturnCode>
{
    public MessageType Type => Message is null ? MessageType.ResponseSlurmRc : MessageType.ResponseSlurmRcMessage;

    public static bool Accepts(MessageType type) => type is MessageType.ResponseSlurmRc or MessageType.ResponseSlurmRcMessage;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
        writer.WriteU32(unchecked((uint)Value));
        if (Message is not null)
        {
            writer.WriteString(Message);
        }
    }

    public static ReturnCode ReadBody(ref SlurmReader reader, ProtocolVersion version) =>
        new(unchecked((int)reader.ReadU32()), reader.Remaining > 0 ? reader.ReadString() : null);
}
