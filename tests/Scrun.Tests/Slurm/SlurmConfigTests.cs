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
    public void Defaults_when_keys_are_absent()
    {
        var config = SlurmConfig.Parse("SlurmctldHost=ctl");
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
}
