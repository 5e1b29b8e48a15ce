using System.Text.Json.Serialization;

namespace Scrun.Containers.Oci;

/// <summary>
/// The OCI runtime "features" document (runtime-spec features.md). Fields scrun cannot promise
/// are left out, which the spec defines as "unknown": what a container may use is decided by
/// the OCI runtime on the compute node, not by scrun.
/// </summary>
public sealed record RuntimeFeatures
{
    [JsonPropertyName("ociVersionMin")]
    public required string OciVersionMin { get; init; }

    [JsonPropertyName("ociVersionMax")]
    public required string OciVersionMax { get; init; }

    [JsonPropertyName("annotations")]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    public const string SpecVersion = "1.0.2";

    public static RuntimeFeatures ForScrun(string scrunVersion) => new()
    {
        OciVersionMin = "1.0.0",
        OciVersionMax = SpecVersion,
        Annotations = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["org.slurm.scrun.implementation"] = "scrun (C#)",
            ["org.slurm.scrun.version"] = scrunVersion,
        },
    };
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(RuntimeFeatures))]
public sealed partial class OciJsonContext : JsonSerializerContext;
