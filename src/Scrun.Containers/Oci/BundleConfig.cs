using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Win32.SafeHandles;
using Scrun.Containers.Interop;

namespace Scrun.Containers.Oci;

/// <summary>A bundle's config.json is missing, unreadable or not a usable OCI configuration: a container error like any other.</summary>
public sealed class BundleException(string message) : ContainerException(message);

/// <summary>A bind mount of config.json: its index in <c>mounts</c>, where it comes from and where it goes.</summary>
internal sealed record BindMount(int Index, string Source, string Destination);

/// <summary>How the staged copy's mounts differ: sources moved (index → new source) and bind mounts made a fresh tmpfs.</summary>
internal sealed record MountChanges(IReadOnlyDictionary<int, string> MovedSources, IReadOnlyCollection<int> MadeTmpfs);

/// <summary>
/// A bundle's <c>config.json</c>: the few members scrun reads, typed, over the whole document,
/// which is kept as it is (unknown members included) so the staged copy loses nothing.
/// </summary>
internal sealed class BundleConfig
{
    private readonly JsonObject _document;

    private BundleConfig(JsonObject document, string bundle)
    {
        _document = document;
        Bundle = bundle;
    }

    /// <summary>The absolute bundle directory the config came from.</summary>
    public string Bundle { get; }

    public string OciVersion => _document["ociVersion"]?.GetValue<string>() ?? "1.0.0";

    public IReadOnlyList<string> Args { get; private init; } = [];

    public IReadOnlyList<string> Env { get; private init; } = [];

    public string Cwd { get; private init; } = "/";

    public bool Terminal { get; private init; }

    /// <summary>The root filesystem, made absolute against the bundle.</summary>
    public string RootPath { get; private init; } = "";

    public IReadOnlyDictionary<string, string> Annotations { get; private init; } = new Dictionary<string, string>();

    /// <summary>Whether the container has user id mappings of its own (linux.uidMappings): its root is another uid on the node.</summary>
    public bool MapsUsers { get; private init; }

    /// <summary>
    /// The bind mounts among config.json's <c>mounts</c> (type <c>bind</c>, or a <c>bind</c>/<c>rbind</c>
    /// option), with their place in the list; entries that are not well-formed are not listed.
    /// </summary>
    public IReadOnlyList<BindMount> BindMounts
    {
        get
        {
            var found = new List<BindMount>();
            if (_document["mounts"] is not JsonArray list)
            {
                return found;
            }
            for (var i = 0; i < list.Count; i++)
            {
                if (list[i] is not JsonObject mount || Text(mount["source"]) is not { } source || Text(mount["destination"]) is not { } destination)
                {
                    continue;
                }
                var options = mount["options"] as JsonArray ?? [];
                if (Text(mount["type"]) == "bind" || options.Any(o => Text(o) is "bind" or "rbind"))
                {
                    found.Add(new BindMount(i, source, destination));
                }
            }
            return found;
        }
    }

    /// <summary>A JSON string's text; null for anything else.</summary>
    internal static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>The largest config.json scrun reads (runtimes' are a few KiB; Kubernetes' rarely 100 KiB).</summary>
    public const int MaxSize = 4 * 1024 * 1024;

    /// <summary>The deepest nesting accepted (OCI configs nest about six levels).</summary>
    public const int MaxDepth = 64;

    private static readonly System.Text.UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static BundleConfig Load(string bundle) => Read(bundle).Config;

    /// <summary>config.json read once: its text, and what it says.</summary>
    public static (string Text, BundleConfig Config) Read(string bundle)
    {
        var path = Path.Combine(bundle, "config.json");
        string text;
        try
        {
            text = s_strictUtf8.GetString(ReadLimited(path));
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new BundleException($"{path} is not valid JSON: {e.Message}");
        }
        return (text, Parse(text, bundle));
    }

    /// <summary>config.json's text, as <see cref="Read"/> gave it, for the bundle at <paramref name="bundle"/>.</summary>
    public static BundleConfig Parse(string text, string bundle)
    {
        var path = Path.Combine(bundle, "config.json");
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false, MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            throw new BundleException($"{path} is not valid JSON: {e.Message}");
        }
        if (node is not JsonObject document)
        {
            throw new BundleException($"{path} is not a JSON object");
        }
        return Parse(document, Path.GetFullPath(bundle), path);
    }

    /// <summary>
    /// config.json's bytes: a regular file of at most <see cref="MaxSize"/> bytes. A FIFO or a
    /// device is refused without reading (opened non-blocking, so a FIFO cannot hang create).
    /// </summary>
    private static byte[] ReadLimited(string path)
    {
        var fd = LibC.open(path, LibC.ORdonly | LibC.ONonblock | LibC.OCloexec);
        if (fd < 0)
        {
            throw new BundleException($"cannot read {path}: {LibC.LastError()}");
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (!FileTree.IsRegularFile(fd, out var size))
            {
                throw new BundleException($"{path} is not a regular file");
            }
            if (size > MaxSize)
            {
                throw new BundleException($"{path} is {Megabytes(size)}; scrun reads at most {Megabytes(MaxSize)}");
            }
            var buffer = new byte[size + 1];
            var total = 0;
            for (int read; total < buffer.Length && (read = RandomAccess.Read(handle, buffer.AsSpan(total), total)) > 0;)
            {
                total += read;
            }
            if (total > size)
            {
                throw new BundleException($"{path} changed while it was read");
            }
            var utf8Bom = total >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF ? 3 : 0;
            return buffer[utf8Bom..total];
        }
        catch (IOException e)
        {
            throw new BundleException($"cannot read {path}: {e.Message}");
        }
    }

    private static string Megabytes(long bytes) =>
        bytes >= 1024 * 1024 ? $"{bytes / (1024.0 * 1024):0.#} MiB" : $"{bytes} bytes";

    /// <summary>What create checks before a job is asked for: the root filesystem is a directory.</summary>
    public void EnsureRootExists()
    {
        if (!Directory.Exists(RootPath))
        {
            throw new BundleException(File.Exists(RootPath)
                ? $"root.path {RootPath} is not a directory"
                : $"root.path {RootPath} does not exist");
        }
    }

    /// <summary>What create checks before a job is asked for: runc could exec the command (see <see cref="CommandPath.ExecRefusal"/>).</summary>
    public void EnsureCommandRuns()
    {
        var destinations = (_document["mounts"] as JsonArray ?? [])
            .Select(m => Text((m as JsonObject)?["destination"]))
            .OfType<string>()
            .ToList();
        if (CommandPath.ExecRefusal(RootPath, Args[0], Env, destinations) is { } refusal)
        {
            throw new BundleException(refusal);
        }
    }

    private static BundleConfig Parse(JsonObject document, string bundle, string path)
    {
        string Where(string member) => $"{path}: {member}";
        if (document["process"] is not JsonObject process)
        {
            throw new BundleException($"{Where("process")} is missing: the container has nothing to run");
        }
        var args = ReadStrings(process["args"], Where("process.args"));
        if (args.Count == 0)
        {
            throw new BundleException($"{Where("process.args")} is empty: the container has nothing to run");
        }
        var env = process["env"] is null ? [] : ReadStrings(process["env"], Where("process.env"));
        var cwd = ReadString(process["cwd"], Where("process.cwd")) ?? "/";
        if (!cwd.StartsWith('/'))
        {
            throw new BundleException($"{Where("process.cwd")} must be an absolute path, not \"{cwd}\"");
        }
        var terminal = process["terminal"] switch
        {
            null => false,
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            _ => throw new BundleException($"{Where("process.terminal")} must be true or false"),
        };
        var root = (document["root"] as JsonObject)?["path"] is { } rootNode
            ? ReadString(rootNode, Where("root.path")) ?? ""
            : throw new BundleException($"{Where("root.path")} is missing");
        if (root.Length == 0)
        {
            throw new BundleException($"{Where("root.path")} is empty");
        }
        var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
        if (document["annotations"] is JsonObject map)
        {
            foreach (var (key, value) in map)
            {
                annotations[key] = ReadString(value, Where($"annotations.{key}")) ?? "";
            }
        }
        else if (document["annotations"] is not null)
        {
            throw new BundleException($"{Where("annotations")} must be an object of strings");
        }
        if (document["ociVersion"] is { } version && ReadString(version, Where("ociVersion")) is null)
        {
            throw new BundleException($"{Where("ociVersion")} must be a string");
        }
        ConfigValidation.Validate(document, path, Interop.NamespaceFile.TypeOf);
        return new BundleConfig(document, bundle)
        {
            Args = args,
            Env = env,
            Cwd = cwd,
            Terminal = terminal,
            RootPath = Path.GetFullPath(root, bundle),
            Annotations = annotations,
            MapsUsers = (document["linux"] as JsonObject)?["uidMappings"] is JsonArray { Count: > 0 },
        };
    }

    /// <summary>
    /// The config the compute node will run: the same document with the root filesystem made
    /// absolute and the hooks that cannot run on a node removed (Docker's libnetwork prestart
    /// hook points at dockerd's own executable in /proc), its mounts changed as
    /// <paramref name="mounts"/> says.
    /// </summary>
    public string ToStagedJson(string rootPath, MountChanges? mounts = null, (uint Uid, uint Gid)? runAsOnNode = null)
    {
        var copy = (JsonObject)_document.DeepClone();
        ((JsonObject)copy["root"]!)["path"] = rootPath;
        if (runAsOnNode is { } owner)
        {
            RunInUserNamespace(copy, owner.Uid, owner.Gid);
        }
        if (mounts is not null && copy["mounts"] is JsonArray mountList)
        {
            foreach (var (index, source) in mounts.MovedSources)
            {
                ((JsonObject)mountList[index]!)["source"] = source;
            }
            foreach (var index in mounts.MadeTmpfs)
            {
                var destination = ((JsonObject)mountList[index]!)["destination"]!.GetValue<string>();
                mountList[index] = new JsonObject
                {
                    ["destination"] = destination,
                    ["type"] = "tmpfs",
                    ["source"] = "tmpfs",
                    ["options"] = new JsonArray("nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
                };
            }
        }
        if (copy["hooks"] is JsonObject hooks)
        {
            foreach (var (kind, list) in hooks.ToList())
            {
                if (list is not JsonArray entries)
                {
                    continue;
                }
                foreach (var hook in entries.OfType<JsonObject>().Where(IsNodeLocal).ToList())
                {
                    entries.Remove(hook);
                }
                if (entries.Count == 0)
                {
                    hooks.Remove(kind);
                }
            }
            if (hooks.Count == 0)
            {
                copy.Remove("hooks");
            }
        }
        return copy.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// What an unprivileged runc on the node needs (a rootless engine's container): a user
    /// namespace mapping the process's user to <paramref name="uid"/> (one id each, all a user may
    /// map), no cgroup path of the engine's, no extra groups, and /sys bound rather than mounted
    /// when the network namespace is the host's. As Slurm's own scrun.lua example does.
    /// </summary>
    private static void RunInUserNamespace(JsonObject config, uint uid, uint gid)
    {
        var process = config["process"] as JsonObject;
        var user = process?["user"] as JsonObject;
        var processUid = user?["uid"] is JsonValue u && u.TryGetValue<uint>(out var pu) ? pu : 0;
        var processGid = user?["gid"] is JsonValue g && g.TryGetValue<uint>(out var pg) ? pg : 0;
        user?.Remove("additionalGids");
        if (config["linux"] is not JsonObject linux)
        {
            config["linux"] = linux = new JsonObject();
        }
        if (linux["namespaces"] is not JsonArray namespaces)
        {
            linux["namespaces"] = namespaces = [];
        }
        if (!namespaces.OfType<JsonObject>().Any(n => Text(n["type"]) == "user"))
        {
            namespaces.Add((JsonNode)new JsonObject { ["type"] = "user" });
        }
        var ownNetwork = namespaces.OfType<JsonObject>().Any(n => Text(n["type"]) == "network");
        linux["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = processUid, ["hostID"] = uid, ["size"] = 1 });
        linux["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = processGid, ["hostID"] = gid, ["size"] = 1 });
        linux.Remove("cgroupsPath");
        (linux["sysctl"] as JsonObject)?.Remove("net.ipv4.ping_group_range");
        if (config["mounts"] is not JsonArray mounts)
        {
            return;
        }
        foreach (var mount in mounts.OfType<JsonObject>())
        {
            if (!ownNetwork && Text(mount["type"]) == "sysfs")
            {
                mount["type"] = "bind";
                mount["source"] = "/sys";
                mount["options"] = new JsonArray("rbind", "nosuid", "noexec", "nodev", "ro");
            }
            else if (mount["options"] is JsonArray options)
            {
                // devpts' gid=5 and the like name ids a one-id mapping does not hold.
                foreach (var option in options.Where(o => Text(o) is { } text && (text.StartsWith("gid=", StringComparison.Ordinal) || text.StartsWith("uid=", StringComparison.Ordinal))).ToList())
                {
                    options.Remove(option);
                }
            }
        }
    }

    private static bool IsNodeLocal(JsonObject hook) =>
        hook["path"]?.GetValue<string>() is { } path && (path.StartsWith("/proc/", StringComparison.Ordinal)
            || hook["args"] is JsonArray args && args.Any(a => a?.GetValue<string>() == "libnetwork-setkey"));

    private static string? ReadString(JsonNode? node, string where) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new BundleException($"{where} must be a string"),
    };

    private static List<string> ReadStrings(JsonNode? node, string where)
    {
        if (node is not JsonArray array)
        {
            throw new BundleException($"{where} must be a list of strings");
        }
        return array.Select((item, i) => ReadString(item, $"{where}[{i}]") ?? throw new BundleException($"{where}[{i}] must be a string")).ToList();
    }
}
