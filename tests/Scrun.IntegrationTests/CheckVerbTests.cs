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
        Assert.Contains($"ok      step launcher: native, no srun needed (Slurm {protocol[..5]}, no switch plugin)", result.Stdout);
        Assert.Contains("ok      compute nodes: oci.conf runs scrun node-run: start waits for the container's process, signals reach it alone", result.Stdout);
        Assert.EndsWith("scrun can talk to this cluster.\n", result.Stdout);
    }

    /// <summary>The Lua in the native binary (Debian's liblua5.4.a, linked in): errors raised and caught in bulk.</summary>
    [Fact]
    public void A_site_scrun_lua_loads_in_the_native_binary_through_thousands_of_caught_errors()
    {
        var conf = SlurmConfWithScript("""
            local json = require 'json'
            local caught = 0
            for i = 1, 2000 do
              if not pcall(json.decode, "{") then caught = caught + 1 end
              if not pcall(slurm.to_json, print) then caught = caught + 1 end
            end
            assert(caught == 4000, "caught " .. caught)
            assert(slurm.to_json(slurm.from_json('{"a":[1,"é"]}')) == '{"a":[1,"é"]}')
            function slurm_scrun_stage_in() return slurm.SUCCESS end
            function slurm_scrun_stage_out() return slurm.SUCCESS end
            return slurm.SUCCESS
            """);
        var result = ScrunBinary.Run("-f", conf, "check");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"ok      scrun.lua: {Path.Combine(Path.GetDirectoryName(conf)!, "scrun.lua")} loads and defines slurm_scrun_stage_in and slurm_scrun_stage_out", result.Stdout);
    }

    [Fact]
    public void A_scrun_lua_that_fails_to_load_is_named_with_its_line()
    {
        var conf = SlurmConfWithScript("function slurm_scrun_stage_in() end\nlocal broken = nil + 1\n");
        var result = ScrunBinary.Run("-f", conf, "check");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("FAILED  scrun.lua: ", result.Stdout);
        Assert.Contains("scrun.lua:2: attempt to perform arithmetic on a nil value", result.Stdout);
    }

    private string SlurmConfWithScript(string script)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_directory, Guid.NewGuid().ToString("n"))).FullName;
        var conf = Path.Combine(directory, "slurm.conf");
        File.Copy(slurm.Clusters["22.05"].SlurmConf, conf);
        File.WriteAllText(Path.Combine(directory, "scrun.lua"), script);
        return conf;
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
