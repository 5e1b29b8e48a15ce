using System.Globalization;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// A login node that is lost: the anchor and the guard (and a create still waiting) killed
/// together, as a power loss, a VM restart or the OOM killer taking both would. Whatever the
/// container was doing (pending, created, running, stopping), its job ends on its own, with
/// Slurm's InactiveLimit at its default (off): slurmctld cancels a job whose allocation it
/// cannot deliver, and the job's lease on its node cancels an allocated one.
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed class LostLoginNodeTests(TestbedFixture bed, SlurmClustersFixture clusters) : IDisposable
{
    private readonly ScrunDriver _verbs = new(bed, "scrun-lost-node-");

    public void Dispose() => _verbs.Dispose();

    public static TheoryData<string> Releases => ["22.05", "24.11", "26.05"];

    [Theory]
    [MemberData(nameof(Releases))]
    public void A_created_containers_job_ends_when_its_login_node_is_lost(string release)
    {
        var cluster = clusters.Clusters[release];
        // The chroots' nodes see the staged bundle in the bed's shared staging directory.
        var environment = new Dictionary<string, string> { ["SLURM_CONF"] = cluster.SlurmConf, ["SCRUN_STAGING_DIR"] = Path.Combine(bed.Environment["TESTBED_DIR"], "staging") };
        var job = ScrunDriver.UniqueName("lost-created");
        var id = _verbs.NewId();
        var create = _verbs.Create(_verbs.Bundle(["true"], job), id, environment: environment);
        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Equal("RUNNING", JobState(cluster, job));

        LoseLoginNode(id);

        ScrunDriver.WaitFor(() => JobState(cluster, job) is "CANCELLED", "the lease to cancel the job");
        _verbs.ScrunWith(environment, "delete", "--force", id);
    }

    [Fact]
    public void A_running_containers_job_and_process_end_when_its_login_node_is_lost()
    {
        var job = ScrunDriver.UniqueName("lost-running");
        var marker = Guid.NewGuid().ToString("n");
        var id = _verbs.NewId();
        Assert.Equal(0, _verbs.Create(_verbs.Bundle(["sh", "-c", $"sleep 300; echo {marker}"], job), id).ExitCode);
        Assert.Equal(0, _verbs.Scrun("start", id).ExitCode);
        Assert.True(Running(marker));

        LoseLoginNode(id);

        _verbs.AssertNoLiveJob(job);
        ScrunDriver.WaitFor(() => !Running(marker), "the container's process to end");
    }

    /// <summary>
    /// The container has ended and the anchor is in a slow stage-out (a site's scrun.lua) when
    /// the login node is lost: the job, still allocated for the stage-out, ends all the same.
    /// </summary>
    [Fact]
    public void A_stopping_containers_job_ends_when_its_login_node_is_lost()
    {
        var conf = _verbs.SlurmConfWith(line => line);
        var staging = Path.Combine(_verbs.Directory, "staging-out");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(conf)!, "scrun.lua"), $$"""
            function slurm_scrun_stage_in() return slurm.SUCCESS end
            function slurm_scrun_stage_out()
              os.execute("sleep 300 & echo $! > {{staging}}; wait")
              return slurm.SUCCESS
            end
            """);
        var job = ScrunDriver.UniqueName("lost-stopping");
        var id = _verbs.NewId();
        var bundle = _verbs.Bundle(["true"], job, linkedRootfs: true);
        Assert.Equal(0, _verbs.Create(bundle, id, environment: new() { ["SLURM_CONF"] = conf }).ExitCode);
        Assert.Equal(0, _verbs.Scrun("start", id).ExitCode);
        ScrunDriver.WaitFor(() => File.Exists(staging) && File.ReadAllText(staging).Trim().Length > 0, "the container's stage-out to begin");
        Assert.Equal("RUNNING", _verbs.JobState(job));

        LoseLoginNode(id);

        _verbs.AssertNoLiveJob(job);
        bed.Run("kill", File.ReadAllText(staging).Trim()); // the stage-out's command, which nothing else would end
    }

    /// <summary>
    /// The job pends when the login node is lost (its create, anchor and guard killed): once it
    /// starts, slurmctld cannot hand the allocation to anyone and cancels it ("Killing interactive
    /// JobId"), as it does for salloc.
    /// </summary>
    [Fact]
    public async Task A_pending_containers_job_ends_when_it_starts_after_its_login_node_was_lost()
    {
        var job = ScrunDriver.UniqueName("lost-pending");
        var id = _verbs.NewId();
        Drain("scrun-lost-pending");
        try
        {
            var create = Task.Run(() => _verbs.Create(_verbs.Bundle(["true"], job), id));
            ScrunDriver.WaitFor(() => _verbs.JobState(job) is "PENDING", "the job to pend");
            ScrunDriver.WaitFor(() => Pids(id, "create").Count == 1 && _verbs.Status(id) == "creating", "the create and the anchor to wait for the job");

            LoseLoginNode(id, "create");
            Assert.Equal(137, (await create.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
            Assert.Equal("PENDING", _verbs.JobState(job));
        }
        finally
        {
            Resume();
        }

        _verbs.AssertNoLiveJob(job);
        Assert.Contains($"Killing interactive JobId={_verbs.JobIdOf(job)}", File.ReadAllText(Path.Combine(bed.Environment["TESTBED_DIR"], "slurm", "log", "slurmctld.log")));
    }

    /// <summary>
    /// logind unmounts /run/user/UID lazily at logout, with the anchor still running: when the
    /// anchor then dies, its guard still finds the container's state through the directory it
    /// holds, and ends the job. (The nodes here do not run scrun, so the guard alone can.)
    /// </summary>
    [Fact]
    public void A_state_directory_unmounted_before_the_anchor_dies_still_has_its_job_ended_by_the_guard()
    {
        var conf = _verbs.SlurmConfWith(line => line);
        var oci = Path.Combine(Path.GetDirectoryName(conf)!, "oci.conf");
        File.WriteAllLines(oci, File.ReadAllLines(oci).Select(line => line.StartsWith("RunTimeRun=", StringComparison.Ordinal)
            ? $"RunTimeRun=\"exec /usr/sbin/runc --root={bed.Environment["TESTBED_DIR"]}/oci-root run --bundle %b %n.%u.%j.%s.%t\""
            : line));
        var mount = Path.Combine(_verbs.Directory, "run-user");
        Directory.CreateDirectory(mount);
        Assert.Equal(0, bed.Run("mount", "-t", "tmpfs", "-o", "size=4m,mode=700", "tmpfs", mount).ExitCode);
        _verbs.Root = Path.Combine(mount, "scrun");
        var job = ScrunDriver.UniqueName("lost-unmounted");
        var id = _verbs.NewId();
        Assert.Equal(0, _verbs.Create(_verbs.Bundle(["true"], job), id, environment: new() { ["SLURM_CONF"] = conf }).ExitCode);
        var anchor = _verbs.State(id).GetProperty("pid").GetInt32();

        Assert.Equal(0, bed.Run("umount", "-l", mount).ExitCode);
        Assert.Equal(0, bed.Run("kill", "-KILL", anchor.ToString(CultureInfo.InvariantCulture)).ExitCode);

        _verbs.AssertNoLiveJob(job);
        Assert.Equal("CANCELLED", _verbs.JobState(job));
    }

    /// <summary>The anchor and the guard of <paramref name="id"/> (and the processes of the <paramref name="alsoVerbs"/> calls still running for it) killed at once.</summary>
    private void LoseLoginNode(string id, params string[] alsoVerbs)
    {
        var anchor = _verbs.State(id).GetProperty("pid").GetInt32();
        var pids = new List<int> { anchor };
        pids.AddRange(Pids(id, "__guard"));
        foreach (var verb in alsoVerbs)
        {
            pids.AddRange(Pids(id, verb));
        }
        Assert.True(pids.Count >= 2 + alsoVerbs.Length, $"not every process of container {id} was found: {string.Join(' ', pids)}");
        var kill = bed.Run("kill", ["-KILL", .. pids.Select(p => p.ToString(CultureInfo.InvariantCulture))], stdin: null);
        Assert.True(kill.ExitCode == 0, kill.ToString());
    }

    /// <summary>The scrun processes running <paramref name="verb"/> for container <paramref name="id"/> (the guard knows its container from its environment).</summary>
    private static List<int> Pids(string id, string verb)
    {
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }
            try
            {
                var arguments = File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0');
                if (arguments.Length > 1 && Path.GetFileName(arguments[0]) == "scrun" && arguments.Contains(verb)
                    && (arguments.Contains(id) || File.ReadAllText(Path.Combine(directory, "environ")).Contains($"\"id\":\"{id}\"", StringComparison.Ordinal)))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    private static string? JobState(SlurmCluster cluster, string job) =>
        cluster.Tool("squeue", "--states=all", "-h", "-n", job, "-o", "%T").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim();

    private bool Running(string marker) => bed.Run("pgrep", "-f", marker).ExitCode == 0;

    private void Drain(string reason)
    {
        var drain = bed.Run("scontrol", "update", "nodename=n1", "state=drain", $"reason={reason}");
        Assert.True(drain.ExitCode == 0, drain.ToString());
    }

    private void Resume() => bed.Run("scontrol", "update", "nodename=n1", "state=resume");
}
