using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Messages;

/// <summary><c>REQUEST_PING</c>: no body; answered with <c>RESPONSE_SLURM_RC</c>. The cheapest probe of a controller.</summary>
public sealed record PingRequest : ISlurmRequest
{
    public MessageType Type => MessageType.RequestPing;

    public void WriteBody(SlurmWriter writer, ProtocolVersion version)
    {
    }
}
