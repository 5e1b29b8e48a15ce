using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Auth;

/// <summary>The auth section of a message: a plugin id, then that plugin's data.</summary>
public abstract record AuthCredential
{
    public const uint MungePluginId = 101;
    public const uint JwtPluginId = 102;
    public const uint SlurmPluginId = 103;

    public abstract uint PluginId { get; }

    public void Write(SlurmWriter writer)
    {
        writer.WriteU32(PluginId);
        WriteData(writer);
    }

    protected abstract void WriteData(SlurmWriter writer);

    public static AuthCredential Read(ref SlurmReader reader)
    {
        var plugin = reader.ReadU32();
        return plugin switch
        {
            MungePluginId => new MungeCredentialText(reader.ReadString() ?? string.Empty),
            JwtPluginId => new JwtCredential(reader.ReadString() ?? string.Empty, reader.ReadString()),
            SlurmPluginId => new SlurmTokenCredential(reader.ReadString() ?? string.Empty),
            _ => throw new SlurmProtocolException($"unknown auth plugin id {plugin}"),
        };
    }
}

/// <summary>auth/munge: the credential text <c>MUNGE:...:</c>.</summary>
public sealed record MungeCredentialText(string Text) : AuthCredential
{
    public override uint PluginId => MungePluginId;

    protected override void WriteData(SlurmWriter writer) => writer.WriteString(Text);

    /// <summary>Never print a credential.</summary>
    public override string ToString() => "MungeCredentialText { Text = <redacted> }";
}

/// <summary>auth/jwt: a token and, for a privileged caller acting for someone, the user name.</summary>
public sealed record JwtCredential(string Token, string? UserName) : AuthCredential
{
    public override uint PluginId => JwtPluginId;

    protected override void WriteData(SlurmWriter writer)
    {
        writer.WriteString(Token);
        writer.WriteString(UserName);
    }

    public override string ToString() => $"JwtCredential {{ Token = <redacted>, UserName = {UserName} }}";
}

/// <summary>auth/slurm (24.05+): a token minted by sackd; read for completeness, never sent by scrun.</summary>
public sealed record SlurmTokenCredential(string Token) : AuthCredential
{
    public override uint PluginId => SlurmPluginId;

    protected override void WriteData(SlurmWriter writer) => writer.WriteString(Token);

    public override string ToString() => "SlurmTokenCredential { Token = <redacted> }";
}
