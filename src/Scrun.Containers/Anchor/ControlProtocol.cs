using System.Text.Json.Serialization;

namespace Scrun.Containers.Anchor;

/// <summary>One request from the CLI to a container's anchor (one JSON line per connection).</summary>
public sealed record ControlRequest
{
    /// <summary>"state", "start", "kill", "delete" or "wait-created".</summary>
    public required string Op { get; init; }

    public int Signal { get; init; }

    public bool All { get; init; }

    public bool Force { get; init; }
}

/// <summary>The anchor's answer: the state after the operation, or why it was refused.</summary>
public sealed record ControlResponse
{
    public bool Ok { get; init; }

    public string? Error { get; init; }

    /// <summary>The exit code the CLI should end with when <see cref="Ok"/> is false.</summary>
    public int ExitCode { get; init; } = 1;

    public ContainerState? State { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;
