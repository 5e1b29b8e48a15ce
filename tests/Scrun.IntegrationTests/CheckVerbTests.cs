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
    public void A_pinned_protocol_skips_probing_and_a_wrong_one_is_named()
    {
        var pinned = ProcessRunner.Run(ScrunBinary.Path, ["-f", slurm.Clusters["24.11"].SlurmConf, "check"],
            new Dictionary<string, string> { ["SCRUN_SLURM_PROTOCOL"] = "24.05" });
        Assert.True(pinned.ExitCode == 0, pinned.ToString());
        Assert.Contains("protocol 24.05 (0x2900)", pinned.Stdout);

        var wrong = ProcessRunner.Run(ScrunBinary.Path, ["-f", slurm.Clusters["24.11"].SlurmConf, "check"],
            new Dictionary<string, string> { ["SCRUN_SLURM_PROTOCOL"] = "21.08" });
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("FAILED  SCRUN_SLURM_PROTOCOL: '21.08' is not a wire format scrun speaks (25.05, 24.11, 24.05, 22.05)", wrong.Stdout);
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
