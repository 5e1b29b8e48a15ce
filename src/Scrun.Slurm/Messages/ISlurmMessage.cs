using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Messages;

/// <summary>A message scrun sends: its type and how its body is packed in a given release.</summary>
public interface ISlurmRequest
{
    MessageType Type { get; }

    void WriteBody(SlurmWriter writer, ProtocolVersion version);
}

/// <summary>A message scrun receives, decoded from its body in the sender's release.</summary>
public interface ISlurmReply<TSelf> where TSelf : ISlurmReply<TSelf>
{
    static abstract bool Accepts(MessageType type);

    static abstract TSelf ReadBody(ref SlurmReader reader, ProtocolVersion version);
}
