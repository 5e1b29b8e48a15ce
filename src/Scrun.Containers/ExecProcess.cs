using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Scrun.Containers;

/// <summary>What exec was asked for: runc's flags as conmon and containerd pass them.</summary>
public sealed record ExecRequest
{
    public required ContainerId Id { get; init; }

    /// <summary><c>--process FILE</c>: the OCI process, whole (the other flags but <c>--tty</c> then change nothing).</summary>
    public string? ProcessFile { get; init; }

    public bool Detach { get; init; }

    public string? PidFile { get; init; }

    public string? ConsoleSocket { get; init; }

    public bool Tty { get; init; }

    public string? Cwd { get; init; }

    public IReadOnlyList<string> Env { get; init; } = [];

    /// <summary><c>--user UID[:GID]</c>.</summary>
    public string? User { get; init; }

    /// <summary><c>--cap CAP</c>, added to the process's capability sets.</summary>
    public IReadOnlyList<string> Capabilities { get; init; } = [];

    public bool NoNewPrivileges { get; init; }

    /// <summary>The command and its arguments, when there is no <c>--process</c>.</summary>
    public IReadOnlyList<string> Command { get; init; } = [];
}

/// <summary>
/// The OCI process an exec runs, as JSON for the runtime on the node: <c>--process</c>'s file
/// as it is, or (as runc builds it) the container's own process with the flags applied.
/// </summary>
internal static class ExecProcess
{
    /// <summary>The longest process JSON (the anchor's request carries it).</summary>
    public const int MaxSize = 60 * 1024;

    private static readonly string[] s_capabilitySets = ["bounding", "effective", "permitted", "inheritable", "ambient"];

    /// <param name="request">exec's flags.</param>
    /// <param name="containerProcess">The container's config.json <c>process</c>, read only when there is no <c>--process</c>.</param>
    /// <param name="inOwnUserNamespace">
    /// The container runs on its node in a user namespace that maps one user and one group (a
    /// rootless engine's): the process cannot have supplementary groups there (the container's own
    /// process has none either).
    /// </param>
    /// <exception cref="ContainerException">The file cannot be read or is no OCI process; a flag is malformed.</exception>
    public static (string Json, bool Terminal) Resolve(ExecRequest request, Func<JsonObject?> containerProcess, bool inOwnUserNamespace = false)
    {
        JsonObject process;
        if (request.ProcessFile is { } file)
        {
            process = ReadFile(file);
        }
        else
        {
            if (request.Command.Count == 0)
            {
                throw new ContainerException("exec needs a command, or --process FILE");
            }
            process = containerProcess()?.DeepClone() as JsonObject ?? [];
            process["args"] = new JsonArray([.. request.Command.Select(a => (JsonNode)JsonValue.Create(a))]);
            process["terminal"] = request.Tty;
            if (request.Cwd is { } cwd)
            {
                process["cwd"] = cwd;
            }
            if (request.Env.Count > 0)
            {
                if (process["env"] is not JsonArray env)
                {
                    process["env"] = env = [];
                }
                foreach (var variable in request.Env)
                {
                    env.Add((JsonNode?)JsonValue.Create(variable));
                }
            }
            if (request.User is { } user)
            {
                process["user"] = ParseUser(user);
            }
            if (request.Capabilities.Count > 0)
            {
                if (process["capabilities"] is not JsonObject capabilities)
                {
                    process["capabilities"] = capabilities = [];
                }
                foreach (var set in s_capabilitySets.Take(3))
                {
                    if (capabilities[set] is not JsonArray list)
                    {
                        capabilities[set] = list = [];
                    }
                    foreach (var capability in request.Capabilities)
                    {
                        list.Add((JsonNode?)JsonValue.Create(capability.StartsWith("CAP_", StringComparison.Ordinal) ? capability : "CAP_" + capability.ToUpperInvariant()));
                    }
                }
            }
            if (request.NoNewPrivileges)
            {
                process["noNewPrivileges"] = true;
            }
        }
        if (request.Tty)
        {
            process["terminal"] = true;
        }
        if (inOwnUserNamespace)
        {
            (process["user"] as JsonObject)?.Remove("additionalGids");
        }
        var terminal = process["terminal"] is JsonValue value && value.TryGetValue<bool>(out var on) && on;
        var json = process.ToJsonString();
        if (json.Length > MaxSize)
        {
            throw new ContainerException($"the exec's process is {json.Length} bytes of JSON, more than the {MaxSize} scrun passes to the node");
        }
        return (json, terminal);
    }

    private static JsonObject ReadFile(string file)
    {
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerException($"cannot read --process {file}: {e.Message}");
        }
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw new ContainerException($"--process {file} is not JSON: {e.Message}");
        }
        if (node is not JsonObject process || process["args"] is not JsonArray { Count: > 0 } args || args.Any(a => a is not JsonValue v || !v.TryGetValue<string>(out _)))
        {
            throw new ContainerException($"--process {file} is not an OCI process: \"args\" must be a list of strings, not empty");
        }
        if (process["cwd"] is JsonValue cwd && (!cwd.TryGetValue<string>(out var dir) || !dir.StartsWith('/')))
        {
            throw new ContainerException($"--process {file}: \"cwd\" must be an absolute path");
        }
        return process;
    }

    private static JsonObject ParseUser(string user)
    {
        var parts = user.Split(':');
        if (parts.Length > 2 || !uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
        {
            throw new ContainerException($"--user {user}: expected UID[:GID], numbers");
        }
        var gid = 0u;
        if (parts.Length == 2 && !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out gid))
        {
            throw new ContainerException($"--user {user}: expected UID[:GID], numbers");
        }
        return new JsonObject { ["uid"] = uid, ["gid"] = gid };
    }
}
