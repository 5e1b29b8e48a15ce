using System.Globalization;
using System.Text.RegularExpressions;

namespace Scrun.Slurm.Config;

/// <summary>A broken or missing configuration, naming the file and line.</summary>
public sealed class SlurmConfigException(string message) : SlurmClientException(message);

/// <summary>One controller: the name Slurm knows it by and the address to connect to.</summary>
public sealed record ControllerHost(string Name, string Address)
{
    public override string ToString() => Name == Address ? Name : $"{Name}({Address})";
}

/// <summary>
/// The parts of slurm.conf a client needs: where the controllers and each node's slurmd are, how
/// to authenticate, and how long to wait. Keys are case-insensitive; <c>include</c> lines are followed.
/// </summary>
public sealed partial record SlurmConfig
{
    public const string DefaultPath = "/etc/slurm/slurm.conf";

    public required string Path { get; init; }

    public string Directory => System.IO.Path.GetDirectoryName(Path) ?? "/";

    public string? ClusterName { get; init; }

    /// <summary>Every controller, primary first.</summary>
    public IReadOnlyList<ControllerHost> Controllers { get; init; } = [];

    /// <summary>The controller port(s); a client picks one of a range.</summary>
    public int FirstPort { get; init; } = 6817;

    public int LastPort { get; init; } = 6817;

    public string AuthType { get; init; } = "auth/munge";

    public IReadOnlyList<string> AuthAltTypes { get; init; } = [];

    /// <summary><c>AuthInfo=socket=...</c>: munged's socket when not the default.</summary>
    public string? MungeSocket { get; init; }

    /// <summary><c>AuthInfo=ttl=...</c>: credential lifetime in seconds (0: munged's default).</summary>
    public uint MungeTimeToLive { get; init; }

    public TimeSpan MessageTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>SrunPortRange</c>: the ports a client may listen on for callbacks (null: any).</summary>
    public (int First, int Last)? SrunPortRange { get; init; }

    public string SlurmUser { get; init; } = "root";

    public TimeSpan InactiveLimit { get; init; }

    /// <summary><c>SlurmctldTimeout</c>: how long a controller may be gone before a backup takes over (Slurm's default 120 s).</summary>
    public TimeSpan SlurmctldTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary><c>SlurmdPort</c>: where a node's slurmd listens unless its NodeName line says <c>Port=</c> (Slurm's default 6818).</summary>
    public int SlurmdPort { get; init; } = 6818;

    /// <summary>
    /// <c>SwitchType</c> as written (null when unset). 22.05 reads unset as <c>switch/none</c>; 23.11+
    /// read any value containing "none" as unset. Either way no plugin data travels with a step.
    /// </summary>
    public string? SwitchType { get; init; }

    /// <summary><c>BatchStartTimeout</c>: how long slurmd may take (its Prolog) before answering a launch (Slurm's default 10 s).</summary>
    public TimeSpan BatchStartTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>SelectType</c> as written (null when unset: 22.05 and 23.02 then use select/linear, 23.11+ select/cons_tres).</summary>
    public string? SelectType { get; init; }

    /// <summary><c>SelectTypeParameters</c> as written (srun packs its tasks' distribution when it names <c>CR_Pack_Nodes</c>).</summary>
    public string? SelectTypeParameters { get; init; }

    /// <summary><c>SlurmctldAddr</c>: the address clients reach the controllers at, when not each host's own.</summary>
    public string? SlurmctldAddress { get; init; }

    /// <summary><c>MpiParams</c> as written.</summary>
    public string? MpiParams { get; init; }

    /// <summary><c>PropagateResourceLimits</c> as written (Slurm's default <c>ALL</c>); see <see cref="Steps.ResourceLimits"/>.</summary>
    public string PropagateResourceLimits { get; init; } = "ALL";

    /// <summary><c>PropagateResourceLimitsExcept</c>: when set, <see cref="PropagateResourceLimits"/> is ignored.</summary>
    public string? PropagateResourceLimitsExcept { get; init; }

    /// <summary>Where slurm.conf is: <paramref name="explicitPath"/> (-f), then $SLURM_CONF, then /etc/slurm/slurm.conf.</summary>
    public static string Locate(string? explicitPath, string? environmentPath) =>
        !string.IsNullOrEmpty(explicitPath) ? explicitPath
        : !string.IsNullOrEmpty(environmentPath) ? environmentPath
        : DefaultPath;

    /// <summary>Reads slurm.conf from where <see cref="Locate"/> says.</summary>
    public static SlurmConfig Load(string? explicitPath = null, string? environmentPath = null)
    {
        var path = Locate(explicitPath, environmentPath);
        if (!File.Exists(path))
        {
            var source = !string.IsNullOrEmpty(explicitPath) ? "given with -f" : !string.IsNullOrEmpty(environmentPath) ? "named by SLURM_CONF" : "the default";
            throw new SlurmConfigException(
                $"slurm.conf not found at {path} ({source}); configless sites, where only slurmd fetches the configuration, are not supported yet: point SLURM_CONF or -f at a copy");
        }
        var entries = new List<Entry>();
        ReadFile(System.IO.Path.GetFullPath(path), entries, depth: 0);
        return Build(System.IO.Path.GetFullPath(path), entries);
    }

    /// <summary>Parses slurm.conf text (tests; includes are resolved against <paramref name="path"/>'s directory).</summary>
    public static SlurmConfig Parse(string text, string path = "slurm.conf")
    {
        var entries = new List<Entry>();
        ReadLines(text.Split('\n'), path, entries, depth: 0);
        return Build(path, entries);
    }

    /// <summary>One Key=Value of a line; <paramref name="Rest"/> is what follows it (a NodeName line's other keys).</summary>
    private readonly record struct Entry(string Key, string Value, string File, int Line, string Rest = "")
    {
        public string Where => $"{File}:{Line}";
    }

    private static void ReadFile(string path, List<Entry> entries, int depth)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SlurmConfigException($"cannot read {path}: {e.Message}");
        }
        ReadLines(lines, path, entries, depth);
    }

    private static void ReadLines(IReadOnlyList<string> lines, string path, List<Entry> entries, int depth)
    {
        for (var index = 0; index < lines.Count; index++)
        {
            var lineNumber = index + 1;
            var line = StripComment(lines[index]).Trim();
            while (line.EndsWith('\\') && index + 1 < lines.Count)
            {
                index++;
                line = line[..^1] + StripComment(lines[index]).Trim();
            }
            if (line.Length == 0)
            {
                continue;
            }
            if (line.StartsWith("include ", StringComparison.OrdinalIgnoreCase) || line.StartsWith("include\t", StringComparison.OrdinalIgnoreCase))
            {
                Include(line[8..].Trim(), path, lineNumber, entries, depth);
                continue;
            }
            var match = KeyValue().Match(line);
            if (!match.Success)
            {
                throw new SlurmConfigException($"{path}:{lineNumber}: expected Key=Value, found \"{Shorten(line)}\"");
            }
            entries.Add(new Entry(match.Groups["key"].Value, Unquote(match.Groups["value"].Value), path, lineNumber, line[match.Length..]));
        }
    }

    private static void Include(string target, string from, int line, List<Entry> entries, int depth)
    {
        if (depth >= 10)
        {
            throw new SlurmConfigException($"{from}:{line}: include nested more than 10 deep");
        }
        target = Unquote(target);
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(from)) ?? "/";
        var full = System.IO.Path.IsPathRooted(target) ? target : System.IO.Path.Combine(directory, target);
        var name = System.IO.Path.GetFileName(full);
        if (name.Contains('*') || name.Contains('?'))
        {
            var parent = System.IO.Path.GetDirectoryName(full) ?? directory;
            if (!System.IO.Directory.Exists(parent))
            {
                return;
            }
            foreach (var match in System.IO.Directory.GetFiles(parent, name).Order(StringComparer.Ordinal))
            {
                ReadFile(match, entries, depth + 1);
            }
            return;
        }
        if (!File.Exists(full))
        {
            throw new SlurmConfigException($"{from}:{line}: included file {full} does not exist");
        }
        ReadFile(full, entries, depth + 1);
    }

    private static SlurmConfig Build(string path, List<Entry> entries)
    {
        var controllers = new List<ControllerHost>();
        string? legacyMachine = null, legacyAddress = null, legacyBackup = null, legacyBackupAddress = null;
        var nodeLines = new List<Entry>();
        var cloudDns = false;
        var config = new SlurmConfig { Path = path };
        foreach (var entry in entries)
        {
            switch (entry.Key.ToLowerInvariant())
            {
                case "slurmctldhost":
                    controllers.Add(ParseHost(entry));
                    break;
                case "controlmachine":
                    legacyMachine = entry.Value;
                    break;
                case "controladdr":
                    legacyAddress = entry.Value;
                    break;
                case "backupcontroller":
                    legacyBackup = entry.Value;
                    break;
                case "backupaddr":
                    legacyBackupAddress = entry.Value;
                    break;
                case "clustername":
                    config = config with { ClusterName = entry.Value };
                    break;
                case "slurmctldport":
                    var (first, last) = ParseRange(entry);
                    config = config with { FirstPort = first, LastPort = last };
                    break;
                case "authtype":
                    config = config with { AuthType = entry.Value.ToLowerInvariant() };
                    break;
                case "authalttypes":
                    config = config with { AuthAltTypes = SplitList(entry.Value) };
                    break;
                case "authinfo":
                    config = ApplyAuthInfo(config, entry);
                    break;
                case "messagetimeout":
                    config = config with { MessageTimeout = TimeSpan.FromSeconds(ParseNumber(entry, min: 1)) };
                    break;
                case "srunportrange":
                    config = config with { SrunPortRange = ParseRange(entry) };
                    break;
                case "slurmuser":
                    config = config with { SlurmUser = entry.Value };
                    break;
                case "slurmctldtimeout":
                    config = config with { SlurmctldTimeout = TimeSpan.FromSeconds(ParseNumber(entry, min: 1)) };
                    break;
                case "inactivelimit":
                    config = config with { InactiveLimit = TimeSpan.FromSeconds(ParseNumber(entry, min: 0)) };
                    break;
                case "slurmdport":
                    config = config with { SlurmdPort = ParsePort(entry) };
                    break;
                case "switchtype":
                    config = config with { SwitchType = entry.Value };
                    break;
                case "batchstarttimeout":
                    config = config with { BatchStartTimeout = TimeSpan.FromSeconds(ParseNumber(entry, min: 0)) };
                    break;
                case "selecttype":
                    config = config with { SelectType = entry.Value };
                    break;
                case "selecttypeparameters":
                    config = config with { SelectTypeParameters = entry.Value };
                    break;
                case "slurmctldaddr":
                    config = config with { SlurmctldAddress = entry.Value };
                    break;
                case "mpiparams":
                    config = config with { MpiParams = entry.Value };
                    break;
                case "propagateresourcelimits":
                    config = config with { PropagateResourceLimits = entry.Value };
                    break;
                case "propagateresourcelimitsexcept":
                    config = config with { PropagateResourceLimitsExcept = entry.Value };
                    break;
                case "slurmctldparameters":
                    cloudDns = entry.Value.Contains("cloud_dns", StringComparison.OrdinalIgnoreCase);
                    break;
                case "nodename":
                    nodeLines.Add(entry);
                    break;
                case "tlstype" when !entry.Value.Equals("tls/none", StringComparison.OrdinalIgnoreCase):
                    throw new SlurmConfigException($"{entry.Where}: TLSType={entry.Value} is not supported yet by scrun's Slurm client");
                default:
                    break;
            }
        }
        if (controllers.Count == 0 && legacyMachine is not null)
        {
            controllers.Add(new ControllerHost(legacyMachine, legacyAddress ?? legacyMachine));
            if (legacyBackup is not null)
            {
                controllers.Add(new ControllerHost(legacyBackup, legacyBackupAddress ?? legacyBackup));
            }
        }
        if (controllers.Count == 0)
        {
            throw new SlurmConfigException($"{path}: no SlurmctldHost line");
        }
        return config with { Controllers = controllers, Nodes = new NodeTable(nodeLines, cloudDns) };
    }

    private static ControllerHost ParseHost(Entry entry)
    {
        var value = entry.Value;
        var open = value.IndexOf('(');
        if (open < 0)
        {
            return new ControllerHost(value, value);
        }
        if (open == 0 || !value.EndsWith(')'))
        {
            throw new SlurmConfigException($"{entry.Where}: SlurmctldHost={value} is not \"host\" or \"host(address)\"");
        }
        return new ControllerHost(value[..open], value[(open + 1)..^1]);
    }

    private static SlurmConfig ApplyAuthInfo(SlurmConfig config, Entry entry)
    {
        foreach (var part in SplitList(entry.Value))
        {
            var eq = part.IndexOf('=');
            var key = eq < 0 ? part : part[..eq];
            var value = eq < 0 ? "" : part[(eq + 1)..];
            switch (key.ToLowerInvariant())
            {
                case "socket":
                    config = config with { MungeSocket = value };
                    break;
                case "ttl":
                    config = config with { MungeTimeToLive = (uint)ParseNumber(entry with { Value = value }, min: 0) };
                    break;
                default:
                    break; // cred_expire and others concern the daemons
            }
        }
        return config;
    }

    private static (int First, int Last) ParseRange(Entry entry)
    {
        var parts = entry.Value.Split('-', 2);
        if (int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            && (parts.Length == 1 || int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            && first is > 0 and <= 65535)
        {
            var last = parts.Length == 2 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : first;
            if (last >= first && last <= 65535)
            {
                return (first, last);
            }
        }
        throw new SlurmConfigException($"{entry.Where}: {entry.Key}={entry.Value} is not a port or port range");
    }

    private static int ParsePort(Entry entry)
    {
        if (!int.TryParse(entry.Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new SlurmConfigException($"{entry.Where}: {entry.Key}={entry.Value} is not a port");
        }
        return port;
    }

    private static int ParseNumber(Entry entry, int min)
    {
        if (!int.TryParse(entry.Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < min)
        {
            throw new SlurmConfigException($"{entry.Where}: {entry.Key}={entry.Value} is not a number (at least {min})");
        }
        return number;
    }

    private static string[] SplitList(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string StripComment(string line)
    {
        var inQuotes = false;
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == '"')
            {
                inQuotes = !inQuotes;
            }
            else if (line[i] == '#' && !inQuotes)
            {
                return line[..i];
            }
        }
        return line;
    }

    /// <summary>The first Key=Value of a line (spaces around '=' allowed; a quoted value may hold spaces).</summary>
    [GeneratedRegex("""^(?<key>[A-Za-z][A-Za-z0-9_]*)\s*=\s*(?<value>"[^"]*"|\S*)""")]
    private static partial Regex KeyValue();

    private static string Unquote(string value) =>
        value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;

    private static string Shorten(string text) => text.Length > 60 ? text[..60] + "..." : text;
}
