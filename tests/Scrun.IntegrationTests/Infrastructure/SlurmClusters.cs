using Scrun.Slurm.Config;
using Scrun.Slurm.Wire;

namespace Scrun.IntegrationTests.Infrastructure;

/// <summary>One live Slurm cluster of the bed: its host-side slurm.conf and a way to run its own tools.</summary>
public sealed record SlurmCluster(string Release, ProtocolVersion ExpectedVersion, string SlurmConf, string MungeKey, string? Chroot)
{
    public SlurmConfig Config => SlurmConfig.Load(SlurmConf);

    /// <summary>Runs one of the cluster's own commands (scontrol, squeue...), inside its chroot when it has one.</summary>
    public ProcessResult Tool(params string[] arguments)
    {
        if (Chroot is null)
        {
            return ProcessRunner.Run(arguments[0], arguments[1..], new Dictionary<string, string> { ["SLURM_CONF"] = SlurmConf });
        }
        return ProcessRunner.Run("chroot", [Chroot, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", .. arguments]);
    }

    /// <summary>Starts one of the cluster's commands without waiting for it (e.g. a step that runs for a while).</summary>
    public System.Diagnostics.Process StartTool(params string[] arguments)
    {
        var psi = Chroot is null
            ? new System.Diagnostics.ProcessStartInfo(arguments[0]) { Environment = { ["SLURM_CONF"] = SlurmConf } }
            : new System.Diagnostics.ProcessStartInfo("chroot") { ArgumentList = { Chroot, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", arguments[0] } };
        foreach (var argument in arguments[1..])
        {
            psi.ArgumentList.Add(argument);
        }
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        return System.Diagnostics.Process.Start(psi)!;
    }

    /// <summary>What slurmd of <paramref name="node"/> has logged about job <paramref name="job"/> so far (slurmstepd tags its lines [job.step]).</summary>
    public IReadOnlyList<string> SlurmdLinesOf(string node, string job)
    {
        const string key = "SlurmdLogFile=";
        var setting = File.ReadLines(SlurmConf).Select(line => line.Trim()).First(line => line.StartsWith(key, StringComparison.Ordinal))[key.Length..].Replace("%n", node, StringComparison.Ordinal);
        var path = Chroot is null ? setting : Path.Combine(Chroot, setting.TrimStart('/'));
        return File.ReadLines(path).Where(line => line.Contains($"[{job}.", StringComparison.Ordinal)).ToList();
    }

    /// <summary>Whether slurmstepd has finished with the job's step on <paramref name="node"/> (its last line: "done with job" on 22.05, "done with step" later).</summary>
    public bool SlurmdIsDoneWith(string node, string job) =>
        SlurmdLinesOf(node, job).Any(line => line.Contains("done with job", StringComparison.Ordinal) || line.Contains("done with step", StringComparison.Ordinal));

    public override string ToString() => Release;
}

/// <summary>
/// The releases the client is tested against live: the bed's Slurm 22.05 (testbed.sh) and the
/// 24.11 and 26.05 clusters in chroots (newer-slurm.sh), brought up once per run, in parallel.
/// </summary>
public sealed class SlurmClustersFixture
{
    public SlurmClustersFixture()
    {
        var script = Path.Combine(Repository.Root, "tests", "testbed", "newer-slurm.sh");
        var ups = new[] { "24.11", "26.05" }
            .Select(release => Task.Run(() => ProcessRunner.Run(script, ["up", release], timeout: TimeSpan.FromMinutes(20))))
            .ToArray();
        Task.WaitAll(ups);
        foreach (var up in ups.Select(t => t.Result).Where(r => r.ExitCode != 0))
        {
            throw new InvalidOperationException($"a newer Slurm cluster did not come up:\n{up}");
        }
        var env = ProcessRunner.Run(Repository.TestbedScript, ["env"]);
        var bedConf = env.Stdout.Split('\n').First(l => l.StartsWith("SLURM_CONF=", StringComparison.Ordinal))["SLURM_CONF=".Length..];
        Clusters = new Dictionary<string, SlurmCluster>
        {
            ["22.05"] = new("22.05", ProtocolVersion.V22_05, bedConf, "/etc/munge/munge.key", null),
            ["24.11"] = Newer(script, "24.11", ProtocolVersion.V24_11),
            ["26.05"] = Newer(script, "26.05", ProtocolVersion.V25_05),
        };
    }

    public IReadOnlyDictionary<string, SlurmCluster> Clusters { get; }

    private static SlurmCluster Newer(string script, string release, ProtocolVersion version)
    {
        var values = ProcessRunner.Run(script, ["env", release]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var chroot = values["CHROOT"];
        return new SlurmCluster(release, version, values["SLURM_CONF"], Path.Combine(chroot, "etc/munge/munge.key"), chroot);
    }
}
