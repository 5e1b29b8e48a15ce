using System.Text.Json.Nodes;
using Scrun.Containers.Interop;

namespace Scrun.Containers.Oci;

/// <summary>
/// What in config.json can be checked on the login node, checked at create against the OCI
/// runtime spec, in runc's words where runc has them: otherwise the container would be created,
/// started, and fail inside its job where the caller sees nothing.
/// </summary>
public static class ConfigValidation
{
    private static readonly HashSet<string> s_rlimits = new(StringComparer.Ordinal)
    {
        "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
    };

    /// <summary>The spec's namespace types and the kernel's CLONE_NEW* flag of each (what NS_GET_NSTYPE answers).</summary>
    private static readonly Dictionary<string, int> s_namespaces = new(StringComparer.Ordinal)
    {
        ["mount"] = 0x00020000,
        ["cgroup"] = 0x02000000,
        ["uts"] = 0x04000000,
        ["ipc"] = 0x08000000,
        ["user"] = 0x10000000,
        ["pid"] = 0x20000000,
        ["network"] = 0x40000000,
        ["time"] = 0x00000080,
    };

    /// <summary>Checks the rlimits and namespaces of <paramref name="document"/> (the config.json at <paramref name="path"/>); <paramref name="namespaceTypeOf"/> says what namespace a file is (see <see cref="NamespaceFile.TypeOf"/>).</summary>
    /// <exception cref="BundleException">The first thing found wrong.</exception>
    public static void Validate(JsonObject document, string path, Func<string, int?> namespaceTypeOf)
    {
        ValidateRlimits((document["process"] as JsonObject)?["rlimits"], path);
        ValidateNamespaces((document["linux"] as JsonObject)?["namespaces"], path, namespaceTypeOf);
    }

    /// <summary>The entries of an optional array member: none when it is absent.</summary>
    private static JsonArray Entries(JsonNode? node, string member, string path) => node switch
    {
        null => [],
        JsonArray list => list,
        _ => throw new BundleException($"{path}: {member} must be an array"),
    };

    private static void ValidateRlimits(JsonNode? rlimits, string path)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in Entries(rlimits, "process.rlimits", path))
        {
            var type = BundleConfig.Text((entry as JsonObject)?["type"]);
            if (type is null || !s_rlimits.Contains(type))
            {
                throw new BundleException($"wrong rlimit value: {type ?? entry?.ToJsonString()}");
            }
            if (!seen.Add(type))
            {
                throw new BundleException($"{path}: process.rlimits: {type} is given twice");
            }
            var soft = Limit(entry!["soft"], type, "soft", path);
            var hard = Limit(entry["hard"], type, "hard", path);
            if (soft > hard)
            {
                throw new BundleException($"{path}: process.rlimits: {type}'s soft limit {soft} is above its hard limit {hard}");
            }
        }
    }

    private static ulong Limit(JsonNode? value, string type, string which, string path) =>
        value is JsonValue v && v.TryGetValue<ulong>(out var limit)
            ? limit
            : throw new BundleException($"{path}: process.rlimits: {type}'s {which} limit must be a number from 0 to 2^64-1");

    private static void ValidateNamespaces(JsonNode? namespaces, string path, Func<string, int?> namespaceTypeOf)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in Entries(namespaces, "linux.namespaces", path))
        {
            var type = BundleConfig.Text((entry as JsonObject)?["type"]) ?? "";
            var file = BundleConfig.Text((entry as JsonObject)?["path"]) ?? "";
            if (!s_namespaces.TryGetValue(type, out var flag))
            {
                throw new BundleException($"namespace {{\"{type}\" \"{file}\"}} does not exist");
            }
            if (!seen.Add(type))
            {
                throw new BundleException($"malformed spec file: duplicated ns \"{type}\"");
            }
            // A path the login node has is checked; one it lacks may be the compute node's.
            if (file.Length > 0 && File.Exists(file) && namespaceTypeOf(file) is var actual && actual != flag)
            {
                var what = actual is { } other ? $"a {s_namespaces.FirstOrDefault(n => n.Value == other).Key ?? "different"} namespace" : "not a namespace";
                throw new BundleException($"{path}: linux.namespaces: the {type} namespace's path {file} is {what}");
            }
        }
    }
}
