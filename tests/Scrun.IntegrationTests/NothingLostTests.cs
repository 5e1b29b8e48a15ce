using System.Text.Json;
using System.Text.RegularExpressions;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// Nothing lost, nothing leaked: each way a user's image could be emptied or a Slurm job, an
/// anchor or a state directory left behind, reproduced on the bed as a site would meet it. Every
/// test ends with the image whole and squeue holding no job of the test.
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed partial class NothingLostTests(TestbedFixture bed) : IDisposable
{
    private readonly ScrunDriver _verbs = new(bed, "scrun-lost-");

    /// <summary>For the tests that wait for "scrun: waiting for job" on the container's stderr.</summary>
    private static readonly Dictionary<string, string> s_talkative = new() { ["SCRUN_QUIET"] = "0" };

    public void Dispose() => _verbs.Dispose();

    // ------------------------------------------------------------------ 1: symlinked roots

    [Theory]
    [InlineData("root behind a link")]
    [InlineData("staging directory behind a link")]
    [InlineData("/var/run root")]
    public void A_state_or_staging_directory_behind_a_symlink_never_empties_the_image(string layout)
    {
        var image = _verbs.ImageWithCanary();
        var job = ScrunDriver.UniqueName("link");
        var environment = new Dictionary<string, string>();
        var varRun = $"/var/run/scrun-test-{Guid.NewGuid().ToString("n")[..8]}";
        switch (layout)
        {
            case "root behind a link":
                _verbs.Root = Linked("root");
                break;
            case "staging directory behind a link":
                environment["SCRUN_STAGING_DIR"] = Linked("staging");
                break;
            default:
                _verbs.Root = varRun; // /var/run is a link to /run on Debian; Docker's runtime roots live there
                break;
        }
        try
        {
            var ran = _verbs.NewId();
            Assert.Equal(0, _verbs.Create(_verbs.Bundle(["sh", "-c", "cat /canary"], job, image), ran, environment: environment).ExitCode);
            Assert.Equal(0, _verbs.Scrun("start", ran).ExitCode);
            _verbs.WaitForStatus(ran, "stopped");
            Assert.Equal("alive", File.ReadAllText(_verbs.StdoutOf(ran)));
            _verbs.AssertIntact(image);
            var delete = _verbs.Scrun("delete", ran);
            Assert.True(delete.ExitCode == 0, delete.ToString());
            _verbs.AssertIntact(image);

            var neverStarted = _verbs.NewId();
            Assert.Equal(0, _verbs.Create(_verbs.Bundle(["true"], job, image), neverStarted, environment: environment).ExitCode);
            delete = _verbs.Scrun("delete", "--force", neverStarted);
            Assert.True(delete.ExitCode == 0, delete.ToString());

            _verbs.AssertIntact(image);
            Assert.DoesNotContain($" {_verbs.Directory}/", File.ReadAllText("/proc/self/mountinfo"));
            Assert.DoesNotContain($" {varRun.Replace("/var/run/", "/run/", StringComparison.Ordinal)}/", File.ReadAllText("/proc/self/mountinfo"));
            _verbs.AssertNoLiveJob(job);
            var root = layout == "/var/run root" ? varRun : _verbs.Root;
            Assert.Empty(Directory.Exists(root) ? Directory.EnumerateDirectories(root) : []); // no container's directory is left
        }
        finally
        {
            if (layout == "/var/run root" && Directory.Exists(varRun))
            {
                Directory.Delete(varRun, recursive: true); // no mount is left below it (asserted above)
            }
        }
    }

    /// <summary>A link in the test's directory to a real directory beside it.</summary>
    private string Linked(string name)
    {
        var real = Path.Combine(_verbs.Directory, $"real-{name}");
        Directory.CreateDirectory(real);
        var link = Path.Combine(_verbs.Directory, $"link-{name}");
        File.CreateSymbolicLink(link, real);
        return link;
    }

    [Fact]
    public void Delete_leaves_a_bundle_that_a_site_script_ran_in_place()
    {
        // scrun-minimal.lua stages nothing: the staged bundle is the caller's own.
        using var script = bed.InstallScript(File.ReadAllText(Path.Combine(Repository.Root, "samples", "scrun-minimal.lua")));
        var image = _verbs.ImageWithCanary();
        var job = ScrunDriver.UniqueName("inplace");
        var bundle = _verbs.Bundle(["true"], job, image, linkedRootfs: true);
        var id = _verbs.NewId();

        Assert.Equal(0, _verbs.Create(bundle, id).ExitCode);
        var start = _verbs.Scrun("start", id);
        Assert.True(start.ExitCode == 0, start.ToString());
        _verbs.WaitForStatus(id, "stopped");
        Assert.Equal(0, _verbs.Scrun("delete", id).ExitCode);

        Assert.True(File.Exists(Path.Combine(bundle, "config.json")));
        _verbs.AssertIntact(image);
        _verbs.AssertNoLiveJob(job);
    }

    // ------------------------------------------------------------------ 2: one id, one create

    [Fact]
    public async Task Two_creates_of_one_id_make_one_container_with_one_job_every_time()
    {
        for (var round = 0; round < 15; round++)
        {
            var job = ScrunDriver.UniqueName("race");
            var bundle = _verbs.Bundle(["true"], job);
            var id = _verbs.NewId();
            var creates = await Task.WhenAll(
                Task.Run(() => _verbs.Create(bundle, id, stdio: $"{id}-a")),
                Task.Run(() => _verbs.Create(bundle, id, stdio: $"{id}-b")));

            Assert.True(creates.Count(c => c.ExitCode == 0) == 1, $"round {round}: {creates[0]}\n{creates[1]}");
            ScrunDriver.AssertRefused(creates.Single(c => c.ExitCode != 0), $"container \"{id}\" already exists");
            Assert.Single(_verbs.LiveJobs(job));
            Assert.Equal("created", _verbs.Status(id));

            Assert.Equal(0, _verbs.Scrun("delete", "--force", id).ExitCode);
            Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
            _verbs.AssertNoLiveJob(job);
        }
    }

    // ------------------------------------------------------------------ 3: allocations landing

    [Fact]
    public async Task Containers_queued_for_the_node_are_all_created_as_their_allocations_land()
    {
        // Twelve runs for a node of two CPUs: most pend, and each allocation lands while its
        // anchor may be between two questions to slurmctld.
        var job = ScrunDriver.UniqueName("queue");
        var bundle = _verbs.Bundle(["true"], job);
        var runs = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(() =>
        {
            var id = _verbs.NewId();
            var create = _verbs.Create(bundle, id);
            if (create.ExitCode != 0)
            {
                return $"create of {id} failed: {create}";
            }
            var start = _verbs.Scrun("start", id);
            _verbs.WaitForStatus(id, "stopped");
            var delete = _verbs.Scrun("delete", id);
            return start.ExitCode == 0 && delete.ExitCode == 0 ? null : $"{id}: {start}\n{delete}";
        })));

        Assert.All(runs, failure => Assert.Null(failure));
        Assert.Equal(12, _verbs.Bed.Run("squeue", "--states=all", "-h", "-n", job, "-o", "%T").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(s => s == "COMPLETED"));
        _verbs.AssertNoLiveJob(job);
    }

    // ------------------------------------------------------------------ 4: slurmctld restart

    [Fact]
    public async Task A_pending_container_rides_out_a_slurmctld_restart_and_runs()
    {
        var job = ScrunDriver.UniqueName("restart");
        var id = _verbs.NewId();
        var log = Path.Combine(_verbs.Directory, "anchor.log");
        Drain("scrun-restart");
        try
        {
            var create = Task.Run(() => _verbs.Create(_verbs.Bundle(["sh", "-c", "echo ran"], job), id, environment: s_talkative, globals: ["--log", log]));
            WaitUntilPending(job, id);

            Bed("stop", "slurmctld");
            try
            {
                ScrunDriver.WaitFor(() => File.Exists(log) && File.ReadAllText(log).Contains("slurmctld or munged did not answer", StringComparison.Ordinal),
                    "the anchor to meet the outage while its job pends");
            }
            finally
            {
                Bed("start", "slurmctld");
            }
            Resume();

            var created = await create.WaitAsync(TimeSpan.FromSeconds(90));
            Assert.True(created.ExitCode == 0, created.ToString());
            Assert.Equal(0, _verbs.Scrun("start", id).ExitCode);
            _verbs.WaitForStatus(id, "stopped");
            Assert.Equal("ran\n", File.ReadAllText(_verbs.StdoutOf(id)));
            var delete = _verbs.Scrun("delete", id);
            Assert.True(delete.ExitCode == 0, $"{delete}\n--- anchor log\n{File.ReadAllText(log)}");
            _verbs.AssertNoLiveJob(job);
        }
        finally
        {
            Resume();
        }
    }

    // ------------------------------------------------------------------ 5: munged stopped

    [Fact]
    public void With_munged_stopped_kill_works_delete_fails_with_the_cause_and_the_container_is_kept_until_it_is_back()
    {
        var job = ScrunDriver.UniqueName("munge");
        var orphanJob = ScrunDriver.UniqueName("munge-orphan");
        var live = _verbs.NewId();
        var orphan = _verbs.NewId();
        foreach (var (id, name) in new[] { (live, job), (orphan, orphanJob) })
        {
            Assert.Equal(0, _verbs.Create(_verbs.Bundle(["sh", "-c", "while :; do sleep 0.2; done"], name), id).ExitCode);
            Assert.Equal(0, _verbs.Scrun("start", id).ExitCode);
        }

        Bed("stop", "munged");
        try
        {
            // scrun node-run on the node takes the signal from the anchor: Slurm, and MUNGE, are not asked.
            var kill = _verbs.Scrun("kill", live, "TERM");
            Assert.True(kill.ExitCode == 0, kill.ToString());
            Assert.Equal("running", _verbs.Status(live)); // sh as PID 1 ignores TERM
            var delete = _verbs.Scrun("delete", "--force", live); // its job could not be ended after it
            ScrunDriver.AssertRefused(delete, null);
            Assert.Contains("munged", delete.Stderr);
            Assert.Equal("running", _verbs.Status(live));

            // An anchor killed outright: its guard, or a delete, must end its job, and cannot yet.
            Assert.Equal(0, _verbs.Bed.Run("kill", "-KILL", _verbs.State(orphan).GetProperty("pid").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture)).ExitCode);
            ScrunDriver.WaitFor(() => _verbs.Status(orphan) == "stopped", "the killed anchor's container to read as stopped");
            delete = _verbs.Scrun("delete", "--force", orphan);
            ScrunDriver.AssertRefused(delete, null);
            Assert.Contains("munged", delete.Stderr);
            Assert.True(Directory.Exists(Path.Combine(_verbs.Root, orphan)));
        }
        finally
        {
            Bed("start", "munged");
        }
        Assert.Single(_verbs.LiveJobs(job)); // the live container's job was not lost track of
        // Nobody deletes the orphan: its guard ends the job once munged answers again.
        ScrunDriver.WaitFor(() => _verbs.LiveJobs(orphanJob).Count == 0, "the guard to end the killed anchor's job", seconds: 150);
        Assert.Equal("stopped", _verbs.Status(orphan));

        Assert.Equal(0, _verbs.Scrun("delete", "--force", live).ExitCode);
        Assert.Equal(0, _verbs.Scrun("delete", orphan).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, live)));
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, orphan)));
        _verbs.AssertNoLiveJob(job);
    }

    /// <summary>
    /// slurmstepd cannot sign the task's exit message while munged is down: scrun node-run's own
    /// report of the exit stands, the container stops with its exit code and its output, and its
    /// job is ended (by the guard, the anchor having given up) once munged is back.
    /// </summary>
    [Fact]
    public void A_container_that_ends_while_munged_is_down_stops_with_its_exit_code_and_its_job_ends_when_munged_is_back()
    {
        var job = ScrunDriver.UniqueName("munge-exit");
        var id = _verbs.NewId();
        Assert.Equal(0, _verbs.Create(_verbs.Bundle(["sh", "-c", "trap 'echo bye; exit 7' TERM; echo ready; while :; do sleep 0.2; done"], job), id).ExitCode);
        Assert.Equal(0, _verbs.Scrun("start", id).ExitCode);
        ScrunDriver.WaitFor(() => File.ReadAllText(_verbs.StdoutOf(id)).Contains("ready", StringComparison.Ordinal), "the container to run");

        Bed("stop", "munged");
        try
        {
            Assert.Equal(0, _verbs.Scrun("kill", id, "TERM").ExitCode);
            _verbs.WaitForStatus(id, "stopped");
            Assert.Equal("ready\nbye\n", File.ReadAllText(_verbs.StdoutOf(id)));
            using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(_verbs.Root, id, "state.json")));
            Assert.Equal(7, state.RootElement.GetProperty("exitCode").GetInt32());
        }
        finally
        {
            Bed("start", "munged");
        }
        ScrunDriver.WaitFor(() => _verbs.LiveJobs(job).Count == 0, "the job to be ended once munged answers", seconds: 150);
        Assert.Equal("FAILED", _verbs.JobState(job)); // exit code 7
        var delete = _verbs.Scrun("delete", id);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
    }

    // ------------------------------------------------------------------ 6: a full state disk

    [Fact]
    public void A_full_state_disk_fails_the_start_that_needs_it_and_nothing_wedges()
    {
        var small = Path.Combine(_verbs.Directory, "small");
        Directory.CreateDirectory(small);
        var mount = _verbs.Bed.Run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small);
        Assert.True(mount.ExitCode == 0, mount.ToString());
        try
        {
            _verbs.Root = Path.Combine(small, "root");
            var job = ScrunDriver.UniqueName("full");
            var later = _verbs.NewId();
            var dropped = _verbs.NewId();
            Assert.Equal(0, _verbs.Create(_verbs.Bundle(["sh", "-c", "echo ran"], job), later).ExitCode);
            Assert.Equal(0, _verbs.Create(_verbs.Bundle(["true"], job), dropped).ExitCode);
            _verbs.Bed.Run("dd", "if=/dev/zero", $"of={small}/fill", "bs=64k"); // until the disk is full

            var start = _verbs.Scrun("start", later);
            ScrunDriver.AssertRefused(start, null);
            Assert.Contains("No space left on device", start.Stderr);
            Assert.Equal("created", _verbs.Status(later));
            var delete = _verbs.Scrun("delete", "--force", dropped);
            Assert.True(delete.ExitCode == 0, delete.ToString());

            File.Delete(Path.Combine(small, "fill"));
            start = _verbs.Scrun("start", later);
            Assert.True(start.ExitCode == 0, start.ToString());
            _verbs.WaitForStatus(later, "stopped");
            Assert.Equal("ran\n", File.ReadAllText(_verbs.StdoutOf(later)));
            Assert.Equal(0, _verbs.Scrun("delete", later).ExitCode);
            _verbs.AssertNoLiveJob(job);
        }
        finally
        {
            _verbs.Bed.Run("umount", "-l", small);
        }
    }

    // ------------------------------------------------------------------ 7: checked before the job

    [Fact]
    public void What_create_checks_fails_before_any_job_is_asked_for()
    {
        var job = ScrunDriver.UniqueName("checks");
        var bundle = _verbs.Bundle(["true"], job);
        var missing = Path.Combine(_verbs.Directory, "no", "such");

        var id = _verbs.NewId();
        ScrunDriver.AssertRefused(_verbs.Create(bundle, id, ["--pid-file", Path.Combine(missing, "pid")]), $"--pid-file: {missing} does not exist");
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));

        var noRootfs = _verbs.Bundle(["true"], job, rootfs: missing);
        ScrunDriver.AssertRefused(_verbs.Create(noRootfs, id), $"root.path {missing} does not exist");

        Assert.Null(_verbs.JobState(job));
    }

    // ------------------------------------------------------------------ 8: signals

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    [InlineData("HUP")]
    public async Task A_signal_to_the_anchor_of_a_pending_container_cancels_its_job_and_fails_create(string signal)
    {
        var job = ScrunDriver.UniqueName("sig-pending");
        var id = _verbs.NewId();
        Drain("scrun-signal");
        try
        {
            var log = Path.Combine(_verbs.Directory, $"anchor-{signal}.log");
            // Called the way nohup or a shell's background job calls it: the signals ignored.
            var create = Task.Run(() => _verbs.Create(_verbs.Bundle(["true"], job), id, environment: s_talkative, globals: ["--log", log, "--debug"],
                wrapper: "sh -c 'trap \"\" HUP INT TERM; exec \"$0\" \"$@\"'"));
            WaitUntilPending(job, id);

            Assert.Equal(0, _verbs.Bed.Run("kill", $"-{signal}", AnchorPid(id)).ExitCode);

            var finished = await Task.WhenAny(create, Task.Delay(TimeSpan.FromSeconds(60)));
            Assert.True(finished == create, $"create still runs 60 s after {signal}; the anchor's log:\n{(File.Exists(log) ? File.ReadAllText(log) : "(none)")}");
            var created = await create;
            Assert.Equal(1, created.ExitCode);
            Assert.EndsWith("scrun: error: the container was stopped before its job started\n", created.Stderr);
            ScrunDriver.WaitFor(() => _verbs.JobState(job) == "CANCELLED", "the pending job to be cancelled");
            Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
        }
        finally
        {
            Resume();
        }
    }

    [Fact]
    public void A_TERM_to_the_anchor_of_a_running_container_is_the_containers_own()
    {
        var job = ScrunDriver.UniqueName("sig-running");
        var id = _verbs.NewId();
        var bundle = _verbs.Bundle(["sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.1; done"], job);
        Assert.Equal(0, _verbs.Create(bundle, id).ExitCode);
        Assert.Equal(0, _verbs.Scrun("start", id).ExitCode);
        ScrunDriver.WaitFor(() => File.ReadAllText(_verbs.StdoutOf(id)).Contains("ready", StringComparison.Ordinal), "the container to run");

        Assert.Equal(0, _verbs.Bed.Run("kill", "-TERM", AnchorPid(id)).ExitCode);

        _verbs.WaitForStatus(id, "stopped");
        // slurmstepd signals every process of the step (the shell directly, and runc, which passes
        // it on): the trap may run twice when the two do not arrive together.
        Assert.Matches("^ready\n(got TERM\n)+$", File.ReadAllText(_verbs.StdoutOf(id)));
        ScrunDriver.WaitFor(() => _verbs.JobState(job) == "FAILED", "the job to end with the container's exit code 3");
        Assert.Equal(0, _verbs.Scrun("delete", id).ExitCode);
        _verbs.AssertNoLiveJob(job);
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task Interrupting_creates_of_pending_containers_leaves_none_of_their_jobs(string signal)
    {
        // timeout signals its whole process group, as Ctrl-C does: the anchors are not in it.
        var jobs = Enumerable.Range(0, 5).Select(_ => ScrunDriver.UniqueName("interrupted")).ToList();
        var ids = jobs.Select(_ => _verbs.NewId()).ToList();
        Drain("scrun-interrupt");
        try
        {
            var creates = await Task.WhenAll(jobs.Select((job, i) => Task.Run(() =>
                _verbs.Create(_verbs.Bundle(["true"], job), ids[i], wrapper: $"timeout -s {signal} 5"))));

            Assert.All(creates, create => Assert.Equal(124, create.ExitCode)); // timeout's "timed out"
            foreach (var (job, id) in jobs.Zip(ids))
            {
                ScrunDriver.WaitFor(() => _verbs.JobState(job) == "CANCELLED", $"job {job} to be cancelled");
                ScrunDriver.WaitFor(() => !Directory.Exists(Path.Combine(_verbs.Root, id)), $"{id} to be removed");
            }
        }
        finally
        {
            Resume();
        }
    }

    // ------------------------------------------------------------------ 9, 10: bad input, one line

    [Fact]
    public void Unbounded_or_unreadable_input_is_one_line_and_asks_for_no_job()
    {
        var job = ScrunDriver.UniqueName("input");
        var bundle = Path.Combine(_verbs.Directory, "odd");
        Directory.CreateDirectory(bundle);
        var config = Path.Combine(bundle, "config.json");

        File.CreateSymbolicLink(config, "/dev/zero");
        ScrunDriver.AssertRefused(_verbs.Create(bundle, _verbs.NewId()), $"{config} is not a regular file");
        File.Delete(config);

        Assert.Equal(0, _verbs.Bed.Run("mkfifo", config).ExitCode);
        ScrunDriver.AssertRefused(_verbs.Create(bundle, _verbs.NewId()), $"{config} is not a regular file");
        File.Delete(config);

        File.WriteAllText(config, $"{{\"process\":{{\"args\":[\"true\"],\"env\":[\"SCRUN_JOB_NAME={job}\"]}},\"root\":{{\"path\":\"/\"}},\"x\":\"{new string('x', 5 << 20)}\"}}");
        ScrunDriver.AssertRefused(_verbs.Create(bundle, _verbs.NewId()), $"{config} is 5 MiB; scrun reads at most 4 MiB");

        File.WriteAllText(config, new string('[', 1000) + new string(']', 1000));
        var deep = _verbs.Create(bundle, _verbs.NewId());
        ScrunDriver.AssertRefused(deep, null);
        Assert.Contains("maximum configured depth of 64", deep.Stderr);

        // What would fail inside the job where the caller sees nothing: refused at create, in runc's words.
        var valid = $"\"process\":{{\"args\":[\"true\"],\"env\":[\"SCRUN_JOB_NAME={job}\"]";
        File.WriteAllText(config, $"{{{valid},\"rlimits\":[{{\"type\":\"RLIMIT_BOGUS\",\"hard\":1,\"soft\":1}}]}},\"root\":{{\"path\":\"/\"}}}}");
        ScrunDriver.AssertRefused(_verbs.Create(bundle, _verbs.NewId()), "wrong rlimit value: RLIMIT_BOGUS");
        File.WriteAllText(config, $"{{{valid}}},\"root\":{{\"path\":\"/\"}},\"linux\":{{\"namespaces\":[{{\"type\":\"pid\"}},{{\"type\":\"bogus\"}}]}}}}");
        ScrunDriver.AssertRefused(_verbs.Create(bundle, _verbs.NewId()), "namespace {\"bogus\" \"\"} does not exist");
        File.WriteAllText(config, $"{{{valid}}},\"root\":{{\"path\":\"/\"}},\"linux\":{{\"namespaces\":[{{\"type\":\"network\",\"path\":\"/proc/self/ns/uts\"}}]}}}}");
        ScrunDriver.AssertRefused(_verbs.Create(bundle, _verbs.NewId()), $"{config}: linux.namespaces: the network namespace's path /proc/self/ns/uts is a uts namespace");
        File.WriteAllText(config, $"{{{valid},\"capabilities\":{{\"bounding\":[\"CAP_CHOWN\",\"CAP_BOGUS\"]}}}},\"root\":{{\"path\":\"/\"}}}}");
        ScrunDriver.AssertRefused(_verbs.Create(bundle, _verbs.NewId()), "unknown capability \"CAP_BOGUS\"");
        File.WriteAllText(config, $"{{{valid}}},\"root\":{{\"path\":\"/\"}},\"mounts\":[{{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"options\":[\"nosuid\",1]}}]}}");
        ScrunDriver.AssertRefused(_verbs.Create(bundle, _verbs.NewId()), $"{config}: mounts[0].options[1] must be a string");

        Assert.Null(_verbs.JobState(job));
        Assert.Empty(Directory.Exists(_verbs.Root) ? Directory.EnumerateFileSystemEntries(_verbs.Root) : []);
    }

    [Fact]
    public void Errors_a_user_can_cause_are_one_line_in_plain_words()
    {
        var bundle = _verbs.Bundle(["true"]);
        var file = Path.Combine(_verbs.Directory, "a-file");
        File.WriteAllText(file, "");
        var readOnly = Path.Combine(_verbs.Directory, "read-only");
        Directory.CreateDirectory(readOnly);
        Assert.Equal(0, _verbs.Bed.Run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", readOnly).ExitCode);
        try
        {
            var results = new List<ProcessResult>
            {
                Refused(Scrun("--root", file, "create", "--bundle", bundle, "x"), $"cannot use {file} as the state directory: it is not a directory"),
                Refused(Scrun("--root", readOnly, "create", "--bundle", bundle, "x"), $"the state directory: cannot write in {readOnly}: Read-only file system"),
                Refused(Scrun("--root", Path.Combine(readOnly, "sub"), "create", "--bundle", bundle, "x"), null),
                Refused(_verbs.Scrun("state", new string('a', 1024)), null),
                Refused(_verbs.Scrun("create", "--bundle", Path.Combine(_verbs.Directory, "nowhere"), "x"), null),
            };

            // Another user's container: state, kill and delete are refused, in words (its state
            // directory is root's, whatever its modes).
            var id = _verbs.NewId();
            Assert.Equal(0, _verbs.Create(bundle, id).ExitCode);
            File.SetUnixFileMode(_verbs.Directory, (UnixFileMode)0b111_101_101);
            var binary = Path.Combine(_verbs.Directory, "scrun"); // wherever the checkout is, nobody can run this copy
            File.Copy(ScrunBinary.Path, binary);
            foreach (var verb in new[] { "state", "kill", "delete" })
            {
                var other = _verbs.Bed.Run("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", binary, "--root", _verbs.Root, verb, id], stdin: null);
                results.Add(Refused(other, $"cannot use {_verbs.Root} as the state directory: it belongs to uid 0, not to uid 65534"));
            }
            // Past every file mode, the anchor itself refuses a stranger (its socket's peer credentials).
            var socket = Path.Combine(_verbs.Root, id, "anchor.sock");
            File.SetUnixFileMode(_verbs.Root, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(Path.GetDirectoryName(socket)!, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(socket, (UnixFileMode)0b111_111_111);
            const string askAnchor = "my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die \"connect: $!\\n\"; print $s qq({\"op\":\"kill\",\"signal\":9}\\n); local $/; print <$s>;";
            var stranger = _verbs.Bed.Run("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "perl", "-MIO::Socket::UNIX", "-e", askAnchor, socket], stdin: null);
            Assert.True(stranger.ExitCode == 0, stranger.ToString());
            Assert.Contains("permission denied: the container belongs to another user", stranger.Stdout);
            Assert.Equal("created", _verbs.Status(id));

            foreach (var result in results)
            {
                Assert.DoesNotContain("   at ", result.Stderr);
                Assert.False(ResourceKey().IsMatch(result.Stderr), result.Stderr);
            }
        }
        finally
        {
            _verbs.Bed.Run("umount", "-l", readOnly);
        }
    }

    /// <summary>scrun with exactly these arguments (no --root of the driver's).</summary>
    private ProcessResult Scrun(params string[] arguments) => _verbs.Bed.Run(ScrunBinary.Path, arguments, stdin: null);

    private static ProcessResult Refused(ProcessResult result, string? message)
    {
        ScrunDriver.AssertRefused(result, message);
        return result;
    }

    /// <summary>What .NET prints when its message resources were stripped: IO_PathNotFound_Path, UnauthorizedAccess_IODenied_Path...</summary>
    [GeneratedRegex(@"\b[A-Z][A-Za-z]+_[A-Z][A-Za-z]+(_[A-Za-z]+)*\b")]
    private static partial Regex ResourceKey();

    // ------------------------------------------------------------------ helpers

    private string AnchorPid(string id) =>
        _verbs.State(id).GetProperty("pid").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);

    private void WaitUntilPending(string job, string id)
    {
        ScrunDriver.WaitFor(() => _verbs.JobState(job) is "PENDING", "the job to pend");
        ScrunDriver.WaitFor(() => File.Exists(_verbs.StderrOf(id)) && File.ReadAllText(_verbs.StderrOf(id)).Contains("waiting for job", StringComparison.Ordinal),
            "the anchor to say it waits");
    }

    private void Drain(string reason)
    {
        var drain = _verbs.Bed.Run("scontrol", "update", "nodename=n1", "state=drain", $"reason={reason}");
        Assert.True(drain.ExitCode == 0, drain.ToString());
    }

    private void Resume() => _verbs.Bed.Run("scontrol", "update", "nodename=n1", "state=resume");

    private void Bed(string action, string daemon)
    {
        var run = ProcessRunner.Run(Repository.TestbedScript, [action, daemon], timeout: TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.ToString());
    }
}
