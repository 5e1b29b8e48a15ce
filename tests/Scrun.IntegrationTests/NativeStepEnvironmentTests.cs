using System.Text.RegularExpressions;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// The native launcher's step is srun's equal: a container printing its environment sees the
/// variables it would see had srun launched it. On 22.05 srun is scrun's own srun launcher
/// (the host's srun); on 24.11 and 26.05, whose srun the host does not have, the cluster's own
/// srun in its chroot runs the chroot's busybox bundle in an allocation of its own.
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed partial class NativeStepEnvironmentTests(TestbedFixture bed, SlurmClustersFixture clusters)
{
    /// <summary>What Slurm's launchers and daemons set; any other name is the image's, the engine's or the bundle's own.</summary>
    private static readonly string[] s_slurmNamespaces = ["SLURM", "SRUN_", "OMPI_", "PRTE_", "HYDRA_", "I_MPI_"];

    [Theory]
    [InlineData("22.05")]
    [InlineData("24.11")]
    [InlineData("26.05")]
    public void A_native_steps_container_sees_the_variables_an_srun_steps_container_sees(string release)
    {
        var native = NamesIn(RunEnv(release, "native"));
        var bySrun = release == "22.05" ? NamesIn(RunEnv(release, "srun")) : NamesIn(SrunInChroot(clusters.Clusters[release]));

        // Both containers on 22.05 come from the same image through scrun: all their names
        // compare. On 24.11 and 26.05 the image and the bundle differ: Slurm's names compare.
        // The SCRUN_* variables are scrun's and the srun launcher's alone.
        var compared = (string name) => !name.StartsWith("SCRUN_", StringComparison.Ordinal)
            && (release == "22.05" || s_slurmNamespaces.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal)));
        var onlyNative = native.Where(compared).Except(bySrun).Order(StringComparer.Ordinal).ToList();
        var onlySrun = bySrun.Where(compared).Except(native).Order(StringComparer.Ordinal).ToList();
        Assert.True(onlyNative.Count == 0 && onlySrun.Count == 0,
            $"Slurm {release}: only with the native launcher: {string.Join(' ', onlyNative)}; only with srun: {string.Join(' ', onlySrun)}");
        Assert.Contains("SLURM_JOB_ID", native);
        Assert.Contains("SLURM_CONTAINER", native);
    }

    /// <summary><c>podman run --rm IMAGE env</c> through the release's scrun, with the launcher asked for.</summary>
    private ProcessResult RunEnv(string release, string launcher)
    {
        var runtime = release == "22.05" ? "scrun" : $"scrun-{release}";
        var run = bed.Run("podman", ["run", "--rm", "--runtime", runtime, "-e", "SCRUN_QUIET=1", "-e", $"SCRUN_STEP_LAUNCHER={launcher}", bed.Image, "env"], stdin: null, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.ToString());
        return run;
    }

    /// <summary>
    /// <c>srun --jobid J --job-name scrun --container B --container-id I env</c>, as scrun's srun
    /// launcher runs it, with the cluster's srun in its chroot, in an allocation of salloc's.
    /// </summary>
    private static ProcessResult SrunInChroot(SlurmCluster cluster)
    {
        var salloc = cluster.Tool("salloc", "--no-shell", "-N1", "-J", EngineDriver.UniqueName("srun-env"));
        var job = GrantedJob().Match(salloc.Stderr + salloc.Stdout).Groups[1].Value;
        Assert.True(job.Length > 0, salloc.ToString());
        try
        {
            var srun = cluster.Tool("srun", "--jobid", job, "--job-name", "scrun", "--container", "/srv/bundle", "--container-id", EngineDriver.UniqueName("srun-env"), "env");
            Assert.True(srun.ExitCode == 0, srun.ToString());
            return srun;
        }
        finally
        {
            cluster.Tool("scancel", job);
        }
    }

    private static HashSet<string> NamesIn(ProcessResult env) =>
        VariableName().Matches(env.Stdout).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex(@"(?m)^([A-Za-z_][A-Za-z0-9_]*)=")]
    private static partial Regex VariableName();

    [GeneratedRegex(@"Granted job allocation (\d+)")]
    private static partial Regex GrantedJob();
}
