using System.Globalization;

namespace Scrun.Slurm.Config;

/// <summary>Where a compute node's slurmd listens: <paramref name="Host"/> is its NodeAddr, a name or an IP address (resolved later, by the transport).</summary>
public sealed record SlurmdAddress(string NodeName, string Host, int Port);

/// <summary>
/// The NodeName lines, read the way Slurm's clients read them (src/common/read_config.c,
/// src/common/node_conf.c:expand_nodeline_info): NodeAddr defaults to NodeHostname, which defaults
/// to NodeName; a list of addresses maps onto the expanded names one by one (or one address
/// serves them all); <c>Port=</c> is one port or one per node, and without it the node listens on
/// <c>SlurmdPort</c>; <c>NodeName=DEFAULT</c> sets Port and State for the lines after it. Like
/// srun, the lines are expanded only when a node is first resolved, so a mistake in them does
/// not stop the commands that never talk to a slurmd.
/// </summary>
public sealed partial record SlurmConfig
{
    private NodeTable Nodes { get; init; } = NodeTable.Empty;

    /// <summary>Where <paramref name="nodeName"/>'s slurmd listens, from its NodeName line.</summary>
    /// <exception cref="SlurmConfigException">
    /// The NodeName lines are broken (file and line named); no line defines the node (a dynamic
    /// node: srun, too, knows such a node's address only from the allocation, never from DNS);
    /// or it is a cloud or future node, whose address is set when it registers.
    /// </exception>
    public SlurmdAddress ResolveNode(string nodeName)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeName);
        var node = Nodes.Find(nodeName)
            ?? throw new SlurmConfigException(
                $"{Path}: no NodeName line defines node {nodeName}: a dynamic node's address comes only with its allocation (srun does not look node names up in DNS)");
        if (node.DynamicState is not null)
        {
            throw new SlurmConfigException(
                $"{node.Where}: node {nodeName} is State={node.DynamicState}: its address is set when it registers and comes with the allocation, not from slurm.conf (SlurmctldParameters=cloud_dns would make it its NodeAddr)");
        }
        return new SlurmdAddress(nodeName, node.Address, node.Port ?? SlurmdPort);
    }

    /// <summary>One node: its NodeAddr, its own port (null: SlurmdPort), its CLOUD/FUTURE state if its address is not static, and its line.</summary>
    private sealed record Node(string Address, int? Port, string? DynamicState, string Where);

    /// <summary>The NodeName lines, expanded on first use (errors included: every lookup then reports the same one).</summary>
    private sealed class NodeTable(IReadOnlyList<Entry> lines, bool cloudDns)
    {
        public static readonly NodeTable Empty = new([], cloudDns: false);

        private readonly Lazy<Dictionary<string, Node>> _nodes = new(() => Expand(lines, cloudDns));

        public Node? Find(string name) => _nodes.Value.GetValueOrDefault(name);

        private static Dictionary<string, Node> Expand(IReadOnlyList<Entry> lines, bool cloudDns)
        {
            // Node names are case-sensitive (read_config.c compares them with xstrcmp).
            var nodes = new Dictionary<string, Node>(StringComparer.Ordinal);
            string? defaultPort = null, defaultState = null;
            foreach (var line in lines)
            {
                var keys = LineKeys(line);
                if (line.Value.Equals("DEFAULT", StringComparison.OrdinalIgnoreCase))
                {
                    foreach (var key in (string[])["NodeHostname", "NodeAddr", "BcastAddr"])
                    {
                        if (keys.ContainsKey(key))
                        {
                            throw new SlurmConfigException($"{line.Where}: {key} is not allowed with NodeName=DEFAULT");
                        }
                    }
                    defaultPort = keys.GetValueOrDefault("Port") ?? defaultPort;
                    defaultState = keys.GetValueOrDefault("State") ?? defaultState;
                    continue;
                }
                if (line.Value.Equals("ALL", StringComparison.OrdinalIgnoreCase))
                {
                    throw new SlurmConfigException($"{line.Where}: NodeName=ALL: ALL is a reserved word");
                }
                var names = ExpandList(line, "NodeName", line.Value);
                if (names.Count == 0)
                {
                    throw new SlurmConfigException($"{line.Where}: NodeName is empty");
                }
                var (addressKey, addressValue) = keys.TryGetValue("NodeAddr", out var address) ? ("NodeAddr", address)
                    : keys.TryGetValue("NodeHostname", out var hostname) ? ("NodeHostname", hostname)
                    : ("NodeName", line.Value);
                var addresses = ExpandList(line, addressKey, addressValue);
                if (addresses.Count != names.Count && addresses.Count != 1)
                {
                    throw new SlurmConfigException(
                        $"{line.Where}: {addressKey}={Shorten(addressValue)} gives {addresses.Count} addresses for the {names.Count} nodes of NodeName={Shorten(line.Value)} (one each, or one for all)");
                }
                var ports = Ports(line, keys.GetValueOrDefault("Port") ?? defaultPort, names.Count);
                var state = keys.GetValueOrDefault("State") ?? defaultState;
                var dynamicState = !cloudDns && state is not null
                    && (state.StartsWith("CLOUD", StringComparison.OrdinalIgnoreCase) || state.Equals("FUTURE", StringComparison.OrdinalIgnoreCase))
                    ? state : null;
                for (var i = 0; i < names.Count; i++)
                {
                    if (nodes.TryGetValue(names[i], out var first))
                    {
                        throw new SlurmConfigException($"{line.Where}: node {names[i]} is defined again (first at {first.Where})");
                    }
                    var port = ports is null ? (int?)null : ports[ports.Length == 1 ? 0 : i];
                    nodes.Add(names[i], new Node(addresses[addresses.Count == 1 ? 0 : i], port, dynamicState, line.Where));
                }
            }
            return nodes;
        }

        /// <summary>The keys after <c>NodeName=...</c> (case-insensitive; the last of a repeated key wins).</summary>
        private static Dictionary<string, string> LineKeys(Entry line)
        {
            var keys = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var rest = line.Rest.TrimStart();
            while (rest.Length > 0)
            {
                var match = KeyValue().Match(rest);
                if (!match.Success)
                {
                    throw new SlurmConfigException($"{line.Where}: expected Key=Value in the NodeName line, found \"{Shorten(rest)}\"");
                }
                keys[match.Groups["key"].Value] = Unquote(match.Groups["value"].Value);
                rest = rest[match.Length..].TrimStart();
            }
            return keys;
        }

        private static List<string> ExpandList(Entry line, string key, string value) =>
            HostList.TryExpand(value, out var error)
            ?? throw new SlurmConfigException($"{line.Where}: {key}={Shorten(value)}: {error}");

        /// <summary>
        /// <c>Port=</c>: one port for every node, or one per node as a list or range
        /// (<c>6820-6823</c>, <c>6820,6821</c>, <c>[6820-6823]</c>); null when unset.
        /// </summary>
        private static int[]? Ports(Entry line, string? value, int nodeCount)
        {
            if (string.IsNullOrEmpty(value))
            {
                return null;
            }
            var expression = value[0] != '[' && (value.Contains('-') || value.Contains(',')) ? $"[{value}]" : value;
            var list = HostList.TryExpand(expression, out var error)
                ?? throw new SlurmConfigException($"{line.Where}: Port={value}: {error}");
            var ports = new int[list.Count];
            for (var i = 0; i < list.Count; i++)
            {
                if (!int.TryParse(list[i], NumberStyles.None, CultureInfo.InvariantCulture, out ports[i]) || ports[i] is < 1 or > 65535)
                {
                    throw new SlurmConfigException($"{line.Where}: Port={value} is not a port, or a list or range of ports");
                }
            }
            if (ports.Length > 1 && ports.Length != nodeCount)
            {
                throw new SlurmConfigException(
                    $"{line.Where}: Port={value} gives {ports.Length} ports for {nodeCount} nodes (one for all, or one each)");
            }
            return ports.Length == 0 ? null : ports;
        }
    }
}
