using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary><c>scrun check</c> (the published binary) against the live clusters.</summary>
[Collection(TestbedCollection.Name)]
public sealed class CheckVerbTests(SlurmClustersFixture slurm) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-check-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("22.05", "22.05 (0x2600)")]
    [InlineData("24.11", "24.11 (0x2A00)")]
    [InlineData("26.05", "25.05 (0x2B00)")]
    public void A_healthy_cluster_passes_every_check(string release, string protocol)
    {
        var result = ScrunBinary.Run("-f", slurm.Clusters[release].SlurmConf, "check");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("ok      munge: credential encoded and decoded", result.Stdout);
        Assert.Contains($"protocol {protocol}", result.Stdout);
        Assert.EndsWith("scrun can talk to this cluster.\n", result.Stdout);
    }

    [Fact]
    public void A_dead_munged_and_a_dead_controller_are_said_in_plain_words()
    {
        var conf = Path.Combine(_directory, "slurm.conf");
        File.WriteAllText(conf, "ClusterName=nowhere\nSlurmctldHost=ghost(127.0.0.1)\nSlurmctldPort=1\nMessageTimeout=2\nAuthInfo=socket=/nonexistent/munge.socket\n");

        var result = ScrunBinary.Run("-f", conf, "check");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("FAILED  munge: cannot reach munged at /nonexistent/munge.socket: is munged running?", result.Stdout);
        Assert.Contains("FAILED  slurmctld ghost(127.0.0.1):", result.Stdout);
        Assert.EndsWith("2 problem(s) found.\n", result.Stdout);
    }
}
