using System.Text.Json.Nodes;
using Scrun.Containers.Interop;

namespace Scrun.Containers.Oci;

/// <summary>
/// What in config.json can be checked on the login node, checked at create against the OCI
/// runtime spec, in runc's words where runc has them: otherwise the container would be created,
/// started, and fail inside its job where the caller sees nothing.
/// </summary>
internal static class ConfigValidation
{
    private static readonly HashSet<string> s_rlimits = new(StringComparer.Ordinal)
    {
        "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
    };

    /// <summary>The kernel's capabilities in number order, CAP_CHOWN (0) to CAP_LAST_CAP (CAP_CHECKPOINT_RESTORE, 40).</summary>
    private static readonly HashSet<string> s_capabilities = new(StringComparer.Ordinal)
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
        "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    };

    private static readonly string[] s_capabilitySets = ["bounding", "effective", "inheritable", "permitted", "ambient"];

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

    /// <summary>Checks the rlimits, capabilities, namespaces and mounts of <paramref name="document"/> (the config.json at <paramref name="path"/>); <paramref name="namespaceTypeOf"/> says what namespace a file is (see <see cref="NamespaceFile.TypeOf"/>).</summary>
    /// <exception cref="BundleException">The first thing found wrong.</exception>
    public static void Validate(JsonObject document, string path, Func<string, int?> namespaceTypeOf)
    {
        ValidateRlimits((document["process"] as JsonObject)?["rlimits"], path);
        ValidateCapabilities((document["process"] as JsonObject)?["capabilities"], path);
        ValidateNamespaces((document["linux"] as JsonObject)?["namespaces"], path, namespaceTypeOf);
        ValidateMounts(document["mounts"], path);
    }

    /// <summary>The entries of an optional array member: none when it is absent.</summary>
    private static JsonArray Entries(JsonNode? node, string member, string path) => node switch
    {
        null => [],
        JsonArray list => list,
        _ => throw new BundleException($"{path}: {member} must be an array"),
    };

    /// <summary>The strings of an optional array member: none when it is absent.</summary>
    private static List<string> Strings(JsonNode? node, string member, string path) =>
        Entries(node, member, path).Select((entry, index) => BundleConfig.Text(entry) ?? throw new BundleException($"{path}: {member}[{index}] must be a string")).ToList();

    /// <summary>A string member's text: empty when it is absent.</summary>
    private static string TextMember(JsonObject owner, string member, string where, string path) => owner[member] switch
    {
        null => "",
        var node => BundleConfig.Text(node) ?? throw new BundleException($"{path}: {where}.{member} must be a string"),
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

    private static void ValidateCapabilities(JsonNode? capabilities, string path)
    {
        if (capabilities is null)
        {
            return;
        }
        if (capabilities is not JsonObject sets)
        {
            throw new BundleException($"{path}: process.capabilities must be an object");
        }
        foreach (var set in s_capabilitySets)
        {
            // A misspelt name is a capability silently lost: runc up to 1.0.0-rc93 and crun since 1.29 refuse it, later runc only warns inside the job.
            if (Strings(sets[set], $"process.capabilities.{set}", path).FirstOrDefault(name => !s_capabilities.Contains(name)) is { } unknown)
            {
                throw new BundleException($"unknown capability {JsonValue.Create(unknown)!.ToJsonString()}");
            }
        }
    }

    private static void ValidateMounts(JsonNode? mounts, string path)
    {
        var list = Entries(mounts, "mounts", path);
        for (var i = 0; i < list.Count; i++)
        {
            var where = $"mounts[{i}]";
            if (list[i] is not JsonObject mount)
            {
                throw new BundleException($"{path}: {where} must be an object");
            }
            if (mount["destination"] is null)
            {
                throw new BundleException($"{path}: {where}.destination is missing");
            }
            var fields = new[] { "destination", "source", "type" }.Select(member => TextMember(mount, member, where, path)).ToList();
            Strings(mount["options"], $"{where}.options", path);
            Entries(mount["uidMappings"], $"{where}.uidMappings", path);
            Entries(mount["gidMappings"], $"{where}.gidMappings", path);
            if (fields.Any(field => field.Contains('\0')))
            {
                throw new BundleException($"invalid mount {mount.ToJsonString()}: mount field contains null byte");
            }
        }
    }
}
