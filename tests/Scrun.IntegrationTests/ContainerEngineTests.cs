using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// Podman and Docker with scrun as their runtime, against the bed's real Slurm: every container
/// here is a Slurm job whose step runc runs on node n1. The lifecycle runs on every release: the
/// runtime "scrun" is the bed's 22.05, "scrun-24.11" and "scrun-26.05" the clusters in chroots
/// (testbed.sh's wrappers), where the step can only be launched natively (the host's srun is 22.05's).
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed class ContainerEngineTests(TestbedFixture bed, SlurmClustersFixture clusters) : IDisposable
{
    private readonly List<(string Engine, string Name)> _started = [];

    public static TheoryData<string> Engines => new() { "podman", "docker" };

    public static TheoryData<string, string> EnginesOnEveryRelease => new()
    {
        { "podman", "22.05" }, { "docker", "22.05" },
        { "podman", "24.11" }, { "docker", "24.11" },
        { "podman", "26.05" }, { "docker", "26.05" },
    };

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Echo_hello_is_a_slurm_job_that_completes(string engine, string release)
    {
        var job = UniqueName("hello");
        var run = Run(engine, ["--rm", "-e", $"SCRUN_JOB_NAME={job}", bed.Image, "echo", "hello"], release: release);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("hello\n", run.Stdout);
        var record = WaitForJob(job, state => state is "COMPLETED", release);
        Assert.Equal("n1", record.Nodes);
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void The_exit_code_and_both_streams_come_back(string engine, string release)
    {
        // Quiet: the stream compared whole must not depend on whether the node was free at once.
        var run = Run(engine, ["--rm", "-e", "SCRUN_QUIET=1", bed.Image, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"], release: release);
        Assert.Equal(3, run.ExitCode);
        Assert.Equal("to-stdout\n", run.Stdout);
        Assert.Equal("to-stderr\n", run.Stderr); // without srun's "task 0: Exited with exit code 3"
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Stdin_reaches_the_container(string engine, string release)
    {
        var run = Run(engine, ["--rm", "-i", bed.Image, "sh", "-c", "read a; read b; echo got:$a:$b"], stdin: "one\ntwo\n", release: release);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("got:one:two\n", run.Stdout);
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void A_terminal_reaches_the_container(string engine, string release)
    {
        var command = string.Join(' ', [Cli(engine), "run", .. RuntimeFlags(engine, release),
            "--rm", "-t", bed.Image, "sh", "-c", "'test -t 0 && test -t 1 && echo tty-yes'"]);
        var run = bed.Run("script", ["-qec", command, "/dev/null"], stdin: null);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("tty-yes", run.Stdout);
    }

    /// <summary>Slurm ends the job a minute in (its time-limit sweep runs every 30 s): one test, Podman only.</summary>
    [Fact]
    public void A_job_past_its_time_limit_ends_the_container_with_the_reason()
    {
        var run = Run("podman", ["--rm", "-e", "SCRUN_TIME_LIMIT=1", bed.Image, "sleep", "600"], timeout: TimeSpan.FromMinutes(4));
        Assert.Equal(137, run.ExitCode);
        Assert.Matches(@"scrun: error: container [0-9a-f]+: job \d+ reached its time limit\n", run.Stderr);
    }

    /// <summary>
    /// Podman usually sizes the console before start, so the size goes out with the launch; when
    /// its resize comes just after start instead, the size follows over slurmstepd's window
    /// connection. Either way the container gets the caller's size (it looks until it does).
    /// </summary>
    [Theory]
    [InlineData("22.05")]
    [InlineData("24.11")]
    [InlineData("26.05")]
    public void The_callers_window_size_reaches_a_podman_container(string release)
    {
        const string waitForSize = "'i=0; while [ \"$(stty size 2>/dev/null)\" != \"45 123\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; stty size'";
        var command = string.Join(' ', ["stty cols 123 rows 45; podman run", .. RuntimeFlags("podman", release), "--rm -t", bed.Image, "sh -c", waitForSize]);
        var run = bed.Run("script", ["-qec", command, "/dev/null"], stdin: null);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("45 123", run.Stdout);
    }

    /// <summary>
    /// Docker starts the container at 0x0 and resizes right after start, before slurmstepd's
    /// window connection arrives (and, with srun, while a SIGWINCH would break srun up to 25.05).
    /// The container, which writes nothing until then, must get the size all the same.
    /// </summary>
    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void A_resize_right_after_start_reaches_a_silent_container(string engine, string release)
    {
        const string waitForSize = "'i=0; while [ \"$(stty size 2>/dev/null)\" != \"45 123\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; stty size'";
        var command = string.Join(' ', ["stty cols 123 rows 45;", Cli(engine), "run", .. RuntimeFlags(engine, release),
            "--rm", "-t", bed.Image, "sh", "-c", waitForSize]);
        var run = bed.Run("script", ["-qec", command, "/dev/null"], stdin: null);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("45 123", run.Stdout);
        Assert.DoesNotContain("accept failure", run.Stdout);
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Stop_sends_term_to_the_trap_and_its_exit_code_comes_back(string engine, string release)
    {
        var name = StartDetached(engine, release, "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var stop = bed.Run(Cli(engine), "stop", "-t", "20", name);
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Equal("7", Wait(engine, name));
        WaitForLog(engine, name, "got-term");
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Kill_ends_the_container_with_137(string engine, string release)
    {
        var name = StartDetached(engine, release, "trap '' TERM; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var kill = bed.Run(Cli(engine), "kill", name);
        Assert.True(kill.ExitCode == 0, kill.ToString());
        Assert.Equal("137", Wait(engine, name));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Hangup_reaches_the_trap_and_the_container_goes_on(string engine)
    {
        var name = StartDetached(engine, "22.05", "trap 'echo got-hup' HUP; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var kill = bed.Run(Cli(engine), "kill", "-s", "HUP", name);
        Assert.True(kill.ExitCode == 0, kill.ToString());
        WaitForLog(engine, name, "got-hup");
        var inspect = bed.Run(Cli(engine), "inspect", "-f", "{{.State.Running}}", name);
        Assert.Equal("true", inspect.Stdout.Trim());
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Removing_a_running_container_by_force_ends_its_job(string engine, string release)
    {
        var job = UniqueName("rmf");
        var name = StartDetached(engine, release, "echo ready; while :; do sleep 0.2; done", "-e", $"SCRUN_JOB_NAME={job}");
        WaitForLog(engine, name, "ready");
        Assert.Equal("RUNNING", FindJob(job, release)?.State);
        // sh is the container's PID 1 and ignores SIGTERM: Podman waits its stop timeout, then kills.
        var rm = engine == "podman" ? bed.Run("podman", "rm", "-f", "-t", "1", name) : bed.Run(Cli(engine), "rm", "-f", name);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        WaitForJob(job, state => state is not ("RUNNING" or "PENDING" or "COMPLETING"), release);
        Assert.DoesNotContain(name, bed.Run(Cli(engine), "ps", "-a", "--format", "{{.Names}}").Stdout);
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Scrun_variables_shape_the_job(string engine, string release)
    {
        var job = UniqueName("vars");
        var name = StartDetached(engine, release, "echo ready; while :; do sleep 0.2; done",
            "-e", $"SCRUN_JOB_NAME={job}", "-e", "SCRUN_TIME_LIMIT=7");
        WaitForLog(engine, name, "ready");
        var record = FindJob(job, release) ?? throw new InvalidOperationException($"no job named {job}");
        Assert.Equal("RUNNING", record.State);
        Assert.Equal("7:00", record.TimeLimit);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Slurm_job_id_joins_an_existing_allocation_and_leaves_it_running(string engine)
    {
        var salloc = bed.Run("salloc", "--no-shell", "-N1", "-J", UniqueName("existing"));
        var job = System.Text.RegularExpressions.Regex.Match(salloc.Stderr + salloc.Stdout, @"Granted job allocation (\d+)").Groups[1].Value;
        Assert.True(job.Length > 0, salloc.ToString());
        try
        {
            var run = Run(engine, ["--rm", "-e", $"SLURM_JOB_ID={job}", bed.Image, "sh", "-c", "echo in-job $SLURM_JOB_ID"]);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal($"in-job {job}\n", run.Stdout);
            Assert.Equal("RUNNING", bed.Run("squeue", "-h", "-j", job, "-o", "%T").Stdout.Trim());
            var newest = bed.Run("squeue", "--states=all", "-h", "-o", "%i").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Max(uint.Parse);
            Assert.Equal(uint.Parse(job), newest); // no job of its own
        }
        finally
        {
            bed.Run("scancel", job);
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void A_missing_binary_fails_with_a_message(string engine)
    {
        var run = Run(engine, ["--rm", bed.Image, "/no/such-binary"]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("such-binary", run.Stderr);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Ten_containers_run_at_once(string engine)
    {
        var runs = await Task.WhenAll(Enumerable.Range(0, 10)
            .Select(i => Task.Run(() => Run(engine, ["--rm", bed.Image, "sh", "-c", $"sleep 0.5; echo container-{i}"]))));
        for (var i = 0; i < runs.Length; i++)
        {
            var run = runs[i];
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal($"container-{i}\n", run.Stdout);
        }
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public async Task A_pending_job_is_reported_then_runs(string engine, string release)
    {
        var job = UniqueName("pending");
        var name = UniqueName(engine);
        _started.Add((engine, name));
        var cluster = clusters.Clusters[release];
        var drain = cluster.Tool("scontrol", "update", "nodename=n1", "state=drain", "reason=scrun-pending-test");
        Assert.True(drain.ExitCode == 0, drain.ToString());
        Task<ProcessResult> run;
        try
        {
            run = Task.Run(() => Run(engine, ["--name", name, "-e", $"SCRUN_JOB_NAME={job}", bed.Image, "echo", "finally"], release: release));
            WaitForJob(job, state => state is "PENDING", release);
        }
        finally
        {
            var resume = cluster.Tool("scontrol", "update", "nodename=n1", "state=resume");
            Assert.True(resume.ExitCode == 0, resume.ToString());
        }
        var result = await run.WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("finally\n", result.Stdout);
        // Docker shows what create wrote on stderr at once; Podman keeps it in the container's log.
        var logs = bed.Run(Cli(engine), "logs", name);
        Assert.Matches(@"scrun: waiting for job \d+ \(", result.Stderr + logs.Stdout + logs.Stderr);
    }

    /// <summary>samples/scrun.lua as a site installs it: the step runs from an rsynced copy in a user namespace.</summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public void The_sample_scrun_lua_runs_the_container_from_a_staged_copy_and_removes_it(string engine)
    {
        using var script = bed.InstallScript(File.ReadAllText(Path.Combine(Repository.Root, "samples", "scrun.lua")));
        var name = StartDetached(engine, "22.05", "cat /proc/self/uid_map; echo made > /made-in-the-job; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var id = bed.Run(Cli(engine), "inspect", "-f", "{{.Id}}", name).Stdout.Trim();
        var staged = $"/run/user/0/slurm/scrun/{id}";
        Assert.Equal("made\n", File.ReadAllText($"{staged}/rootfs/made-in-the-job")); // the job writes into the staged copy
        Assert.Matches(@"(?m)^\s*0\s+0\s+1\s*$", bed.Run(Cli(engine), "logs", name).Stdout); // the rewritten user namespace

        var rm = bed.Run(Cli(engine), "rm", "-f", name);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.False(Directory.Exists(staged), "stage-out left the staged copy");
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void A_stage_in_that_never_ends_fails_at_its_limit_and_leaves_no_job(string engine)
    {
        var hang = $"sleep {Random.Shared.Next(6000, 7000)}";
        using var script = bed.InstallScript($$"""
            function slurm_scrun_stage_in()
              os.execute("{{hang}}")
              return slurm.SUCCESS
            end
            function slurm_scrun_stage_out() return slurm.SUCCESS end
            """);
        var job = UniqueName("hang");
        var name = UniqueName(engine);
        _started.Add((engine, name));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var run = Run(engine, ["--name", name, "-e", "SCRUN_STAGE_IN_TIMEOUT=3", "-e", $"SCRUN_JOB_NAME={job}", bed.Image, "true"]);

        Assert.NotEqual(0, run.ExitCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"create took {watch.Elapsed}");
        // The engines run scrun with the default slurm.conf, /etc/slurm/slurm.conf: the script is named from there.
        Assert.Contains("/etc/slurm/scrun.lua: slurm_scrun_stage_in did not finish within 3 s and was stopped", run.Stderr + bed.Run(Cli(engine), "logs", name));
        WaitForJob(job, state => state is "CANCELLED");
        Assert.Equal(1, bed.Run("pgrep", "-f", hang).ExitCode); // the hook's command was killed
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void A_scrun_lua_that_does_not_load_fails_with_its_line_and_asks_for_no_job(string engine)
    {
        using var script = bed.InstallScript("function slurm_scrun_stage_in() end\nlocal broken = nil .. 'x'\n");
        var before = NewestJobId();
        var name = UniqueName(engine);
        _started.Add((engine, name));
        var run = Run(engine, ["--name", name, bed.Image, "true"]);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("/etc/slurm/scrun.lua:2: attempt to concatenate a nil value", run.Stderr + bed.Run(Cli(engine), "logs", name));
        Assert.True(NewestJobId() <= before, "a job was asked for");
    }

    private uint NewestJobId() =>
        bed.Run("squeue", "--states=all", "-h", "-o", "%i").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(uint.Parse).DefaultIfEmpty(0u).Max();

    public void Dispose()
    {
        foreach (var (engine, name) in _started)
        {
            bed.Run(Cli(engine), "rm", "-f", name);
        }
    }

    private string Cli(string engine) => engine == "docker" ? bed.DockerCli : "podman";

    /// <summary>The bed's runtime for a release: "scrun" runs against 22.05, "scrun-24.11" and "scrun-26.05" against the chroots.</summary>
    private static string[] RuntimeFlags(string engine, string release = "22.05")
    {
        var runtime = release == "22.05" ? "scrun" : $"scrun-{release}";
        return engine == "docker" ? ["--runtime", runtime, "--net=none"] : ["--runtime", runtime];
    }

    private ProcessResult Run(string engine, string[] arguments, string? stdin = null, TimeSpan? timeout = null, string release = "22.05") =>
        bed.Run(Cli(engine), ["run", .. RuntimeFlags(engine, release), .. arguments], stdin, timeout ?? TimeSpan.FromMinutes(2));

    private string StartDetached(string engine, string release, string script, params string[] flags)
    {
        var name = UniqueName(engine);
        _started.Add((engine, name));
        var run = Run(engine, ["-d", "--name", name, .. flags, bed.Image, "sh", "-c", script], release: release);
        Assert.True(run.ExitCode == 0, run.ToString());
        return name;
    }

    private string Wait(string engine, string name)
    {
        var wait = bed.Run(Cli(engine), ["wait", name], stdin: null, TimeSpan.FromSeconds(60));
        Assert.True(wait.ExitCode == 0, wait.ToString());
        return wait.Stdout.Trim();
    }

    private void WaitForLog(string engine, string name, string text)
    {
        var logs = new ProcessResult(0, "", "");
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; Thread.Sleep(100))
        {
            logs = bed.Run(Cli(engine), "logs", name);
            if (logs.Stdout.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
        }
        Assert.Fail($"'{text}' never reached the logs of {name}:\n{logs}");
    }

    private static string UniqueName(string prefix) => $"scrun-{prefix}-{Guid.NewGuid().ToString("n")[..8]}";

    private sealed record JobRecord(string State, string Nodes, string TimeLimit);

    private JobRecord? FindJob(string jobName, string release = "22.05")
    {
        var squeue = clusters.Clusters[release].Tool("squeue", "--states=all", "-h", "-n", jobName, "-o", "%T|%N|%l");
        Assert.True(squeue.ExitCode == 0, squeue.ToString());
        var fields = squeue.Stdout.Trim().Split('|');
        return fields.Length == 3 ? new JobRecord(fields[0], fields[1], fields[2]) : null;
    }

    private JobRecord WaitForJob(string jobName, Func<string, bool> state, string release = "22.05")
    {
        JobRecord? record = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; Thread.Sleep(100))
        {
            record = FindJob(jobName, release);
            if (record is not null && state(record.State))
            {
                return record;
            }
        }
        throw new InvalidOperationException($"job {jobName} never reached the expected state (last seen: {record?.State ?? "absent"})");
    }
}
