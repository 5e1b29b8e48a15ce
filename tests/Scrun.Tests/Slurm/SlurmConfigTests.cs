using System.Globalization;
using Scrun.Slurm.Config;
using Xunit;

namespace Scrun.Tests.Slurm;

public sealed class SlurmConfigTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-conf-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void The_client_keys_are_read_case_insensitively_with_their_defaults()
    {
        var config = SlurmConfig.Parse("""
            # a comment
            clustername=alpha
            SLURMCTLDHOST=ctl1(10.0.0.1)
            SlurmctldHost=ctl2
            SlurmctldPort=6817-6820
            AuthType=auth/munge
            AuthAltTypes=auth/jwt,auth/slurm
            AuthInfo=socket=/var/run/munge/alt.socket,ttl=60,cred_expire=120
            MessageTimeout = 30
            SrunPortRange=60001-63000
            SlurmUser=slurm
            InactiveLimit=300
            NodeName=n[1-4] CPUs=2 State=UNKNOWN
            """);

        Assert.Equal("alpha", config.ClusterName);
        Assert.Equal([new ControllerHost("ctl1", "10.0.0.1"), new ControllerHost("ctl2", "ctl2")], config.Controllers);
        Assert.Equal((6817, 6820), (config.FirstPort, config.LastPort));
        Assert.Equal(["auth/jwt", "auth/slurm"], config.AuthAltTypes);
        Assert.Equal("/var/run/munge/alt.socket", config.MungeSocket);
        Assert.Equal(60u, config.MungeTimeToLive);
        Assert.Equal(TimeSpan.FromSeconds(30), config.MessageTimeout);
        Assert.Equal((60001, 63000), config.SrunPortRange);
        Assert.Equal("slurm", config.SlurmUser);
        Assert.Equal(TimeSpan.FromMinutes(5), config.InactiveLimit);
    }

    [Fact]
    public void The_step_launch_keys_are_read()
    {
        var config = SlurmConfig.Parse("""
            SlurmctldHost=ctl
            slurmdport=7018
            SwitchType=switch/hpe_slingshot
            BATCHSTARTTIMEOUT=45
            SelectType="select/cons_tres"
            """);

        Assert.Equal(7018, config.SlurmdPort);
        Assert.Equal("switch/hpe_slingshot", config.SwitchType);
        Assert.Equal(TimeSpan.FromSeconds(45), config.BatchStartTimeout);
        Assert.Equal("select/cons_tres", config.SelectType);
    }

    [Fact]
    public void The_keys_srun_turns_into_task_variables_are_read()
    {
        var config = SlurmConfig.Parse("""
            SlurmctldHost=ctl
            SlurmctldAddr=10.1.1.1
            SelectTypeParameters=CR_Core,CR_Pack_Nodes
            MpiParams=ports=12000-12999
            PropagateResourceLimits=NOFILE
            PropagateResourceLimitsExcept=CORE
            """);

        Assert.Equal("10.1.1.1", config.SlurmctldAddress);
        Assert.Equal("CR_Core,CR_Pack_Nodes", config.SelectTypeParameters);
        Assert.Equal("ports=12000-12999", config.MpiParams);
        Assert.Equal("NOFILE", config.PropagateResourceLimits);
        Assert.Equal("CORE", config.PropagateResourceLimitsExcept);
    }

    [Fact]
    public void Defaults_when_keys_are_absent()
    {
        var config = SlurmConfig.Parse("SlurmctldHost=ctl");
        Assert.Equal("ALL", config.PropagateResourceLimits);
        Assert.Null(config.PropagateResourceLimitsExcept);
        Assert.Equal(6818, config.SlurmdPort);
        Assert.Null(config.SwitchType);
        Assert.Equal(TimeSpan.FromSeconds(10), config.BatchStartTimeout);
        Assert.Null(config.SelectType);
        Assert.Equal(6817, config.FirstPort);
        Assert.Equal("auth/munge", config.AuthType);
        Assert.Null(config.MungeSocket);
        Assert.Equal(TimeSpan.FromSeconds(10), config.MessageTimeout);
        Assert.Null(config.SrunPortRange);
        Assert.Equal("root", config.SlurmUser);
    }

    [Fact]
    public void The_pre_21_08_controller_keys_still_work()
    {
        var config = SlurmConfig.Parse("ControlMachine=head\nControlAddr=10.1.1.1\nBackupController=head2\n");
        Assert.Equal([new ControllerHost("head", "10.1.1.1"), new ControllerHost("head2", "head2")], config.Controllers);
    }

    [Fact]
    public void Include_lines_are_followed_relative_to_the_including_file_and_with_wildcards()
    {
        Write("conf.d/10-ports.conf", "SlurmctldPort=7000\n");
        Write("conf.d/20-timeout.conf", "MessageTimeout=42\n");
        Write("cluster.conf", "ClusterName=from-include\n");
        var main = Write("slurm.conf", "SlurmctldHost=ctl\ninclude cluster.conf\nInclude conf.d/*.conf\n");

        var config = SlurmConfig.Load(main);

        Assert.Equal("from-include", config.ClusterName);
        Assert.Equal(7000, config.FirstPort);
        Assert.Equal(TimeSpan.FromSeconds(42), config.MessageTimeout);
        Assert.Equal(main, config.Path);
        Assert.Equal(_directory, config.Directory);
    }

    [Fact]
    public void Line_continuations_and_quoted_values()
    {
        var config = SlurmConfig.Parse("SlurmctldHost=ctl\nClusterName=\"quoted name\" # trailing comment\nAuthInfo=socket=/a,\\\nttl=5\n");
        Assert.Equal("quoted name", config.ClusterName);
        Assert.Equal(5u, config.MungeTimeToLive);
    }

    [Theory]
    [InlineData("SlurmctldHost=ctl\nSlurmctldPort=abc\n", "slurm.conf:2: SlurmctldPort=abc is not a port or port range")]
    [InlineData("SlurmctldHost=ctl\nMessageTimeout=0\n", "slurm.conf:2: MessageTimeout=0 is not a number (at least 1)")]
    [InlineData("SlurmctldHost=ctl(10.0.0.1\n", "slurm.conf:1: SlurmctldHost=ctl(10.0.0.1 is not \"host\" or \"host(address)\"")]
    [InlineData("ClusterName=x\n= broken\n", "slurm.conf:2: expected Key=Value")]
    [InlineData("ClusterName=x\n", "slurm.conf: no SlurmctldHost line")]
    [InlineData("SlurmctldHost=ctl\nSrunPortRange=7000-6000\n", "slurm.conf:2: SrunPortRange=7000-6000 is not a port or port range")]
    [InlineData("SlurmctldHost=ctl\nTLSType=tls/s2n\n", "slurm.conf:2: TLSType=tls/s2n is not supported yet")]
    [InlineData("SlurmctldHost=ctl\nSlurmdPort=0\n", "slurm.conf:2: SlurmdPort=0 is not a port")]
    [InlineData("SlurmctldHost=ctl\nSlurmdPort=65536\n", "slurm.conf:2: SlurmdPort=65536 is not a port")]
    [InlineData("SlurmctldHost=ctl\nBatchStartTimeout=soon\n", "slurm.conf:2: BatchStartTimeout=soon is not a number (at least 0)")]
    public void Broken_configurations_name_the_file_and_line(string text, string expected)
    {
        var error = Assert.Throws<SlurmConfigException>(() => SlurmConfig.Parse(text));
        Assert.StartsWith(expected, error.Message);
    }

    [Fact]
    public void A_missing_include_names_the_including_line()
    {
        var main = Write("slurm.conf", "SlurmctldHost=ctl\ninclude missing.conf\n");
        var error = Assert.Throws<SlurmConfigException>(() => SlurmConfig.Load(main));
        Assert.Equal($"{main}:2: included file {Path.Combine(_directory, "missing.conf")} does not exist", error.Message);
    }

    [Fact]
    public void A_missing_file_says_where_it_looked_and_that_configless_is_not_supported()
    {
        var missing = Path.Combine(_directory, "nope.conf");
        var fromFlag = Assert.Throws<SlurmConfigException>(() => SlurmConfig.Load(missing, "/elsewhere.conf"));
        Assert.Contains($"slurm.conf not found at {missing} (given with -f)", fromFlag.Message);
        Assert.Contains("configless", fromFlag.Message);

        var fromEnvironment = Assert.Throws<SlurmConfigException>(() => SlurmConfig.Load(null, missing));
        Assert.Contains("(named by SLURM_CONF)", fromEnvironment.Message);
    }

    // ---- Where each node's slurmd listens (NodeName lines) ----

    [Fact]
    public void A_NodeAddr_list_maps_onto_the_expanded_names_one_by_one()
    {
        var config = SlurmConfig.Parse("""
            SlurmctldHost=ctl
            NodeName=n[1-4],gpu01 NodeAddr=10.0.0.[1-4],10.1.0.1 CPUs=2 State=UNKNOWN
            NodeName=rack[1-2]-n[1-2] NodeAddr=192.168.[1-2].[1-2]
            """);

        Assert.Equal(new SlurmdAddress("n1", "10.0.0.1", 6818), config.ResolveNode("n1"));
        Assert.Equal(new SlurmdAddress("n3", "10.0.0.3", 6818), config.ResolveNode("n3"));
        Assert.Equal(new SlurmdAddress("gpu01", "10.1.0.1", 6818), config.ResolveNode("gpu01"));
        Assert.Equal("192.168.1.2", config.ResolveNode("rack1-n2").Host);
        Assert.Equal("192.168.2.1", config.ResolveNode("rack2-n1").Host);
    }

    [Fact]
    public void NodeAddr_defaults_to_NodeHostname_which_defaults_to_the_name()
    {
        var config = SlurmConfig.Parse("""
            SlurmctldHost=ctl
            NodeName=a[01-02] NodeHostname=host[1-2]
            NodeName=b[1-2] NodeHostname=host[3-4] NodeAddr=10.0.0.[3-4]
            NodeName=c[1-2]
            NodeName=shared[1-2] NodeAddr=10.9.9.9 Port=6821-6822
            """);

        Assert.Equal("host2", config.ResolveNode("a02").Host);
        Assert.Equal("10.0.0.4", config.ResolveNode("b2").Host);
        Assert.Equal("c1", config.ResolveNode("c1").Host);
        Assert.Equal(new SlurmdAddress("shared2", "10.9.9.9", 6822), config.ResolveNode("shared2"));
    }

    [Fact]
    public void SlurmdPort_is_the_port_of_nodes_without_their_own_wherever_it_is_set()
    {
        Assert.Equal(6818, SlurmConfig.Parse("SlurmctldHost=ctl\nNodeName=n1\n").ResolveNode("n1").Port);
        Assert.Equal(7001, SlurmConfig.Parse("SlurmctldHost=ctl\nNodeName=n1\nSlurmdPort=7001\n").ResolveNode("n1").Port);
    }

    [Fact]
    public void NodeName_DEFAULT_sets_port_and_state_for_the_lines_after_it()
    {
        var config = SlurmConfig.Parse("""
            SlurmctldHost=ctl
            SlurmdPort=7000
            NodeName=early
            NodeName=DEFAULT Port=6900 CPUs=2
            NodeName=n[1-2] CPUs=4
            NodeName=own Port=6901
            NodeName=DEFAULT RealMemory=1000
            NodeName=late
            NodeName=DEFAULT State=CLOUD
            NodeName=cloud1
            """);

        Assert.Equal(7000, config.ResolveNode("early").Port);
        Assert.Equal(6900, config.ResolveNode("n2").Port);
        Assert.Equal(6901, config.ResolveNode("own").Port);
        Assert.Equal(6900, config.ResolveNode("late").Port);
        var error = Assert.Throws<SlurmConfigException>(() => config.ResolveNode("cloud1"));
        Assert.StartsWith("slurm.conf:10: node cloud1 is State=CLOUD", error.Message);
    }

    [Fact]
    public void A_line_may_give_one_port_per_node_as_a_range_or_a_list()
    {
        var config = SlurmConfig.Parse("""
            SlurmctldHost=ctl
            NodeName=s[1-3] NodeAddr=host Port=6820-6822
            NodeName=t[1-2] NodeAddr=host Port=6830,6831
            NodeName=u[1-2] NodeAddr=host Port=[6840-6841]
            NodeName=v[1-2] NodeAddr=host Port=6850
            """);

        Assert.Equal(new SlurmdAddress("s2", "host", 6821), config.ResolveNode("s2"));
        Assert.Equal(6831, config.ResolveNode("t2").Port);
        Assert.Equal(6840, config.ResolveNode("u1").Port);
        Assert.Equal(6850, config.ResolveNode("v2").Port);
    }

    [Fact]
    public void Keys_are_case_insensitive_values_may_be_quoted_names_are_case_sensitive()
    {
        var config = SlurmConfig.Parse("""
            SlurmctldHost=ctl
            nodename=Node1 NODEADDR="10.0.0.7" port = 6999 \
              cpus=2
            """);

        Assert.Equal(new SlurmdAddress("Node1", "10.0.0.7", 6999), config.ResolveNode("Node1"));
        Assert.Throws<SlurmConfigException>(() => config.ResolveNode("node1"));
    }

    /// <summary>srun does not fall back to DNS: forward.c fails with "can't find address for host X, check slurm.conf".</summary>
    [Fact]
    public void A_node_no_line_defines_is_refused_as_srun_refuses_it()
    {
        var config = SlurmConfig.Parse("SlurmctldHost=ctl\nNodeName=n1\n");

        var error = Assert.Throws<SlurmConfigException>(() => config.ResolveNode("dyn1"));
        Assert.StartsWith("slurm.conf: no NodeName line defines node dyn1", error.Message);
    }

    [Theory]
    [InlineData("State=CLOUD", "slurm.conf:2: node c1 is State=CLOUD")]
    [InlineData("State=cloud", "slurm.conf:2: node c1 is State=cloud")]
    [InlineData("State=FUTURE", "slurm.conf:2: node c1 is State=FUTURE")]
    public void Cloud_and_future_nodes_have_no_static_address(string state, string expected)
    {
        var text = $"SlurmctldHost=ctl\nNodeName=c[1-2] NodeAddr=10.0.0.[1-2] {state}\nNodeName=static1\n";
        var config = SlurmConfig.Parse(text);

        var error = Assert.Throws<SlurmConfigException>(() => config.ResolveNode("c1"));
        Assert.StartsWith(expected, error.Message);
        Assert.Equal("static1", config.ResolveNode("static1").Host);

        // With cloud_dns the controller hands out no addresses: the node is reached at its NodeAddr.
        var withDns = SlurmConfig.Parse(text + "SlurmctldParameters=enable_configless,cloud_dns\n");
        Assert.Equal(new SlurmdAddress("c2", "10.0.0.2", 6818), withDns.ResolveNode("c2"));
    }

    [Theory]
    [InlineData("NodeName=n[1-4] NodeAddr=10.0.0.[1-3]",
        "slurm.conf:3: NodeAddr=10.0.0.[1-3] gives 3 addresses for the 4 nodes of NodeName=n[1-4] (one each, or one for all)")]
    [InlineData("NodeName=n[1-2] NodeHostname=h[1-3]",
        "slurm.conf:3: NodeHostname=h[1-3] gives 3 addresses for the 2 nodes of NodeName=n[1-2]")]
    [InlineData("NodeName=n[1-3] Port=6820-6821", "slurm.conf:3: Port=6820-6821 gives 2 ports for 3 nodes")]
    [InlineData("NodeName=n1 Port=70000", "slurm.conf:3: Port=70000 is not a port")]
    [InlineData("NodeName=n1 Port=fast", "slurm.conf:3: Port=fast is not a port")]
    [InlineData("NodeName=n[1-2 CPUs=2", "slurm.conf:3: NodeName=n[1-2: \"n[1-2\" has a '[' without ']'")]
    [InlineData("NodeName=n[1-99999]", "slurm.conf:3: NodeName=n[1-99999]: \"[1-99999]\" has the range 1-99999, more than 65536 hosts")]
    [InlineData("NodeName=n1 NodeAddr=10.0.0.[1", "slurm.conf:3: NodeAddr=10.0.0.[1: \"10.0.0.[1\" has a '[' without ']'")]
    [InlineData("NodeName=n1 CPUs", "slurm.conf:3: expected Key=Value in the NodeName line, found \"CPUs\"")]
    [InlineData("NodeName=DEFAULT NodeAddr=10.0.0.1", "slurm.conf:3: NodeAddr is not allowed with NodeName=DEFAULT")]
    [InlineData("NodeName=ALL CPUs=2", "slurm.conf:3: NodeName=ALL: ALL is a reserved word")]
    [InlineData("NodeName=n[0-1] CPUs=1", "slurm.conf:3: node n0 is defined again (first at slurm.conf:2)")]
    [InlineData("NodeName=\"\"", "slurm.conf:3: NodeName is empty")]
    public void Broken_node_lines_name_the_file_and_line_when_a_node_is_resolved(string line, string expected)
    {
        // Like srun, which expands the NodeName lines only to find a node: the rest of the file still serves.
        var config = SlurmConfig.Parse($"SlurmctldHost=ctl\nNodeName=n0\n{line}\nMessageTimeout=20\n");
        Assert.Equal(TimeSpan.FromSeconds(20), config.MessageTimeout);

        var error = Assert.Throws<SlurmConfigException>(() => config.ResolveNode("n0"));
        Assert.StartsWith(expected, error.Message);
    }

    [Fact]
    public void Node_lines_in_an_included_file_are_named_by_that_file()
    {
        var nodes = Write("nodes.conf", "NodeName=n[1-2] NodeAddr=10.0.0.5,10.0.0.6\nNodeName=m[1-3] NodeAddr=10.0.1.[1-2]\n");
        var main = Write("slurm.conf", "SlurmctldHost=ctl\nSlurmdPort=6900\ninclude nodes.conf\n");

        var config = SlurmConfig.Load(main);

        var error = Assert.Throws<SlurmConfigException>(() => config.ResolveNode("n2"));
        Assert.StartsWith($"{nodes}:2: NodeAddr=10.0.1.[1-2] gives 2 addresses for the 3 nodes", error.Message);
        Write("nodes.conf", "NodeName=n[1-2] NodeAddr=10.0.0.5,10.0.0.6\n");
        Assert.Equal(new SlurmdAddress("n2", "10.0.0.6", 6900), SlurmConfig.Load(main).ResolveNode("n2"));
    }

    // ---- The test bed's own slurm.conf, as tests/testbed writes it ----

    [Theory]
    [InlineData("22.05", 6817, 6818)]
    [InlineData("24.11", 9817, 9818)]
    [InlineData("26.05", 10817, 10818)]
    public void The_test_beds_slurm_conf_parses_and_its_node_resolves(string release, int ctldPort, int slurmdPort)
    {
        var text = TestBedSlurmConf(release, ctldPort, slurmdPort);

        var config = SlurmConfig.Parse(text, Path.Combine(_directory, "slurm.conf"));

        Assert.Equal([new ControllerHost("localhost", "127.0.0.1")], config.Controllers);
        Assert.Equal((ctldPort, ctldPort), (config.FirstPort, config.LastPort));
        Assert.Equal(slurmdPort, config.SlurmdPort);
        Assert.Equal(new SlurmdAddress("n1", "127.0.0.1", slurmdPort), config.ResolveNode("n1"));
        Assert.Equal("select/cons_tres", config.SelectType);
        Assert.Equal(TimeSpan.FromSeconds(10), config.BatchStartTimeout);
        Assert.Equal(release == "22.05" ? "switch/none" : null, config.SwitchType);
        Assert.Equal(release == "22.05" ? "testbed" : "tb" + release.Replace(".", ""), config.ClusterName);
    }

    /// <summary>
    /// slurm.conf as testbed.sh (22.05, on the host) or newer-slurm.sh (24.11, 26.05, host-side copy)
    /// writes it: the scripts' own text with their variables filled in, so that a change there is
    /// parsed here. The ports are the scripts' defaults (checked against them).
    /// </summary>
    private static string TestBedSlurmConf(string release, int ctldPort, int slurmdPort)
    {
        var bed = Path.Combine(RepositoryRoot(), "tests", "testbed");
        var lib = File.ReadAllLines(Path.Combine(bed, "lib.sh"));
        string Common(string cluster, string dir) => Fill(HereDocument(lib, "slurm_conf_common() {"), new()
        {
            ["cluster"] = cluster,
            ["ctld_port"] = ctldPort.ToString(CultureInfo.InvariantCulture),
            ["slurmd_port"] = slurmdPort.ToString(CultureInfo.InvariantCulture),
            ["dir"] = dir,
        });
        if (release == "22.05")
        {
            var script = File.ReadAllLines(Path.Combine(bed, "testbed.sh"));
            Assert.Contains(script, line => line == $"CTLD_PORT=${{TESTBED_SLURMCTLD_PORT:-{ctldPort}}}");
            Assert.Contains(script, line => line == $"SLURMD_PORT=${{TESTBED_SLURMD_PORT:-{slurmdPort}}}");
            Assert.Contains(script, line => line.Trim() == "slurm_conf_common testbed \"$CTLD_PORT\" \"$SLURMD_PORT\" \"$TB/slurm\"");
            var extra = Fill(HereDocument(script, "desired_slurm_conf() {"), new() { ["TB"] = "/tmp/scrun-testbed" });
            return "# Generated\n" + Common("testbed", "/tmp/scrun-testbed/slurm") + extra;
        }
        var newer = File.ReadAllLines(Path.Combine(bed, "newer-slurm.sh"));
        Assert.Contains(newer, line => line.Contains($"{release}) SUITE=") && line.Contains($"_PORT:-{ctldPort}}}"));
        Assert.Contains(newer, line => line.Trim() == "SLURMD_PORT=$((CTLD_PORT + 1))");
        Assert.Equal(ctldPort + 1, slurmdPort);
        // The echo lines around slurm_conf_common in write_config, then the host-side AuthInfo line.
        var start = Array.FindIndex(newer, line => line.Trim().StartsWith("slurm_conf_common \"tb${RELEASE/./}\" \"$CTLD_PORT\" \"$SLURMD_PORT\" \"$s\""));
        var end = Array.FindIndex(newer, start, line => line.Trim() == "} >\"$C/etc/slurm/slurm.conf\"");
        Assert.True(start > 0 && end > start, "newer-slurm.sh no longer writes slurm.conf as this test expects");
        var echoed = newer[(start + 1)..end].Select(line => line.Trim()).ToList();
        Assert.All(echoed, line => Assert.Matches("^echo \"[^\"$]*\"$", line));
        Assert.Contains(newer, line => line.Contains("echo \"AuthInfo=socket=$MUNGE_SOCKET\"; } >\"$ST/slurm.conf\""));
        return "# Generated\n" + Common("tb" + release.Replace(".", ""), "/srv/slurm")
            + string.Concat(echoed.Select(line => line[6..^1] + "\n"))
            + "AuthInfo=socket=/tmp/scrun-testbed/newer/munged.socket\n";
    }

    /// <summary>The body of the first here-document (<c>cat &lt;&lt;WORD</c>) after the line starting with <paramref name="function"/>.</summary>
    private static string HereDocument(string[] script, string function)
    {
        var start = Array.FindIndex(script, line => line.StartsWith(function, StringComparison.Ordinal));
        Assert.True(start >= 0, $"no '{function}' in the script");
        var open = Array.FindIndex(script, start, line => line.Contains("cat <<", StringComparison.Ordinal));
        var word = script[open][(script[open].IndexOf("<<", StringComparison.Ordinal) + 2)..].Trim();
        Assert.Matches("^[A-Z]+$", word); // unquoted: the shell fills in the variables
        var close = Array.IndexOf(script, word, open + 1);
        return string.Concat(script[(open + 1)..close].Select(line => line + "\n"));
    }

    /// <summary>Fills in <c>$name</c>; every variable of the text must be given.</summary>
    private static string Fill(string text, Dictionary<string, string> variables)
    {
        var filled = System.Text.RegularExpressions.Regex.Replace(text, @"\$([A-Za-z_][A-Za-z0-9_]*)",
            match => variables.TryGetValue(match.Groups[1].Value, out var value) ? value : match.Value);
        Assert.DoesNotContain("$", filled);
        return filled;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Scrun.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Scrun.sln not found above the test binaries");
    }
}
