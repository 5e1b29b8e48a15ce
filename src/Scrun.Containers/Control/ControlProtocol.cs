using System.Text.Json;
using System.Text.Json.Serialization;
using Scrun.Slurm.Interop;

namespace Scrun.Containers.Control;

/// <summary>What the CLI asks a container's anchor (the words anchors of earlier releases understand).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ControlOperation>))]
internal enum ControlOperation
{
    [JsonStringEnumMemberName("state")]
    State,

    [JsonStringEnumMemberName("start")]
    Start,

    [JsonStringEnumMemberName("kill")]
    Kill,

    [JsonStringEnumMemberName("delete")]
    Delete,

    /// <summary>A process in the running container: the relay's stdio travels with the request, the connection stays open until the process ends.</summary>
    [JsonStringEnumMemberName("exec")]
    Exec,

    [JsonStringEnumMemberName("pause")]
    Pause,

    [JsonStringEnumMemberName("resume")]
    Resume,

    /// <summary>On an exec's connection: the relay's terminal has a new size.</summary>
    [JsonStringEnumMemberName("resize")]
    Resize,
}

/// <summary>One request from the CLI to a container's anchor (one JSON line per connection).</summary>
internal sealed record ControlRequest
{
    public required ControlOperation Op { get; init; }

    /// <summary>kill's signal.</summary>
    [JsonConverter(typeof(SignalNumberConverter))]
    public Signal Signal { get; init; } = Signal.Terminate;

    /// <summary>kill's <c>--all</c>.</summary>
    public bool All { get; init; }

    /// <summary>delete's <c>--force</c>.</summary>
    public bool Force { get; init; }

    /// <summary>exec's process (the OCI process JSON, as the runtime on the node takes it).</summary>
    public string? Process { get; init; }

    /// <summary>exec: the descriptors sent are a terminal that carries input, output and the size.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Terminal { get; init; }
}

/// <summary>The anchor's answer: the state after the operation, or why it was refused.</summary>
internal sealed record ControlResponse
{
    public bool Ok { get; init; }

    public string? Error { get; init; }

    /// <summary>What kind of failure <see cref="Error"/> is, when there is one.</summary>
    public ContainerErrorKind Kind { get; init; } = ContainerErrorKind.Failed;

    public ContainerState? State { get; init; }

    /// <summary>An exec's last answer: its process has ended with this exit code (128+N for a signal).</summary>
    public int? ExitCode { get; init; }

    public static ControlResponse Refused(ContainerException e, ContainerState? state) => new() { Error = e.Message, Kind = e.Kind, State = state };
}

/// <summary>A signal as its number on the socket.</summary>
internal sealed class SignalNumberConverter : JsonConverter<Signal>
{
    public override Signal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TryGetInt32(out var number) && number is >= 1 and <= Signal.Highest ? new Signal(number) : throw new JsonException($"not a signal: {number}");

    public override void Write(Utf8JsonWriter writer, Signal value, JsonSerializerOptions options) => writer.WriteNumberValue(value.Number);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;
