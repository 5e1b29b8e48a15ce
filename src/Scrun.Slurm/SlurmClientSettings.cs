using Scrun.Slurm.Auth;
using Scrun.Slurm.Config;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm;

/// <summary>
/// How a client reaches its cluster, resolved once and handed on whole: which slurm.conf, which
/// credential (a JWT, else munged), and which wire format (pinned by the user, known from an
/// earlier conversation, or remembered in a cache). A container keeps these, so every later
/// verb talks to the cluster create talked to. (Npgsql's settings and Tmds.Ssh's
/// <c>SshClientSettings</c> are the model.)
/// </summary>
public sealed record SlurmClientSettings
{
    public const string ConfVariable = "SLURM_CONF";
    public const string JwtVariable = "SLURM_JWT";
    public const string ProtocolVariable = "SCRUN_SLURM_PROTOCOL";

    /// <summary>slurm.conf: <c>-f</c>, else <c>$SLURM_CONF</c>, else <see cref="SlurmConfig.DefaultPath"/>.</summary>
    public string ConfigPath { get; init; } = SlurmConfig.DefaultPath;

    /// <summary><c>SLURM_JWT</c>: auth/jwt with this token instead of MUNGE.</summary>
    public string? Jwt { get; init; }

    /// <summary><c>SCRUN_SLURM_PROTOCOL</c>: this wire format and no other (never probed).</summary>
    public ProtocolVersion? PinnedProtocol { get; init; }

    /// <summary>The wire format the controller spoke before (a container's state): tried first, probed again if refused.</summary>
    public ProtocolVersion? KnownProtocol { get; init; }

    /// <summary>Where the wire format each controller spoke is remembered between processes; none: no memory.</summary>
    public string? ProtocolCache { get; init; }

    /// <summary>The settings <paramref name="explicitConfig"/> (<c>-f</c>) and an environment make.</summary>
    public static SlurmClientSettings FromEnvironment(string? explicitConfig, Func<string, string?> variable) => new()
    {
        ConfigPath = SlurmConfig.Locate(explicitConfig, variable(ConfVariable)),
        Jwt = variable(JwtVariable) is { Length: > 0 } jwt ? jwt : null,
        PinnedProtocol = variable(ProtocolVariable) is { Length: > 0 } release && ProtocolVersion.TryParseRelease(release, out var version) ? version : null,
    };

    /// <summary>The settings of this process's own environment.</summary>
    public static SlurmClientSettings FromProcessEnvironment(string? explicitConfig) =>
        FromEnvironment(explicitConfig, Environment.GetEnvironmentVariable);

    /// <exception cref="SlurmConfigException">slurm.conf is missing or broken.</exception>
    public SlurmConfig LoadConfig() => SlurmConfig.Load(ConfigPath);

    /// <summary>A client for <paramref name="config"/> (this settings' slurm.conf, loaded) with this credential and wire format.</summary>
    public SlurmController Connect(SlurmConfig config)
    {
        IAuthenticator authenticator = Jwt is { } token
            ? new JwtAuthenticator(token)
            : new MungeAuthenticator(new MungeClient(config.MungeSocket), config.MungeTimeToLive);
        return new SlurmController(config, authenticator, PinnedProtocol is { IsSupported: true } pinned ? pinned : null, remembered: KnownProtocol,
            cache: ProtocolCache is { } path ? new ProtocolCache(path) : null);
    }

    /// <summary>Loads slurm.conf and connects.</summary>
    public SlurmController Connect() => Connect(LoadConfig());
}
