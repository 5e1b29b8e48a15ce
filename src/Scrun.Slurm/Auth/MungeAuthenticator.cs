using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Auth;

/// <summary>auth/munge: a new credential per message, carrying the message hash.</summary>
public sealed class MungeAuthenticator(MungeClient munge, uint timeToLiveSeconds = 0) : IAuthenticator
{
    public MungeClient Munge { get; } = munge;

    public AuthCredential CreateCredential(MessageType type, ReadOnlySpan<byte> body) =>
        new MungeCredentialText(Munge.Encode(MessageHash.Compute(type, body), timeToLiveSeconds));
}

/// <summary>auth/jwt: the token from <c>SLURM_JWT</c>; slurmctld takes the user from it (no message hash).</summary>
public sealed class JwtAuthenticator(string token, string? userName = null) : IAuthenticator
{
    public AuthCredential CreateCredential(MessageType type, ReadOnlySpan<byte> body) => new JwtCredential(token, userName);
}
