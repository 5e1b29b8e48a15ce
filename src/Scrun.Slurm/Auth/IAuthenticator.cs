using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Auth;

/// <summary>Makes the auth section of an outgoing message.</summary>
public interface IAuthenticator
{
    /// <summary>A fresh credential for this message (MUNGE credentials decode only once).</summary>
    AuthCredential CreateCredential(MessageType type, ReadOnlySpan<byte> body);
}
