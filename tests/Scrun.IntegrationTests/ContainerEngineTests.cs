using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// Root's Podman and Docker with scrun as their runtime, against the bed's real Slurm: every
/// container here is a Slurm job whose step runc runs on node n1. The lifecycle
/// (<see cref="EngineLifecycleTests"/>) runs on every release: the runtime "scrun" is the bed's
/// 22.05, "scrun-24.11" and "scrun-26.05" the clusters in chroots (testbed.sh's wrappers), where
/// the step can only be launched natively (the host's srun is 22.05's). What only root's engines
/// show here: time limits, signals, joining, many at once, a pending job, scrun.lua.
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed class ContainerEngineTests(TestbedFixture bed, SlurmClustersFixture clusters) : EngineLifecycleTests(bed, clusters)
{
    private readonly EngineDriver _engines = new(
        (command, stdin, timeout) => bed.Run(command[0] == "docker" ? bed.DockerCli : command[0], command.Skip(1), stdin, timeout), clusters);

    protected override EngineDriver Driver => _engines;

    protected override (string Name, uint Uid) JobOwner => ("root", 0);

    protected override string EngineCommandLine(string engine) => Cli(engine);

    /// <summary>The bed's runtime for a release: "scrun" runs against 22.05, "scrun-24.11" and "scrun-26.05" against the chroots.</summary>
    protected override string[] RuntimeFlags(string engine, string release)
    {
        var runtime = release == "22.05" ? "scrun" : $"scrun-{release}";
        return engine == "docker" ? ["--runtime", runtime, "--net=none"] : ["--runtime", runtime];
    }

    /// <summary>
    /// pause freezes the container on its node: the engine says paused, a ticking loop stops
    /// (its last tick stays the last), exec is refused; unpause thaws it and the ticks go on; a
    /// paused container removed by force (the engine thaws or scrun does) leaves no job.
    /// </summary>
    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Pause_freezes_the_container_and_unpause_thaws_it(string engine, string release)
    {
        var job = UniqueName("pause");
        var name = StartDetached(engine, release, "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done", "-e", $"SCRUN_JOB_NAME={job}");
        WaitForLog(engine, name, "tick 3");
        var pause = Driver.Engine(engine, "pause", name);
        Assert.True(pause.ExitCode == 0, pause.ToString());
        Assert.Equal("paused", Driver.Engine(engine, "inspect", "-f", "{{.State.Status}}", name).Stdout.Trim());
        if (engine == "podman")
        {
            var id = Driver.Engine(engine, "inspect", "-f", "{{.Id}}", name).Stdout.Trim();
            Assert.Contains("\"status\": \"paused\"", Bed.Run(ScrunBinary.Path, "--root", "/run/scrun", "state", id).Stdout);
        }
        var frozen = SettledLastTick(engine, name);
        var exec = Driver.Engine(engine, "exec", name, "true");
        Assert.NotEqual(0, exec.ExitCode);
        Assert.Equal(frozen, LastTick(engine, name));

        var unpause = Driver.Engine(engine, "unpause", name);
        Assert.True(unpause.ExitCode == 0, unpause.ToString());
        Assert.Equal("running", Driver.Engine(engine, "inspect", "-f", "{{.State.Status}}", name).Stdout.Trim());
        WaitForLog(engine, name, $"tick {frozen + 3}\n");

        Assert.Equal(0, Driver.Engine(engine, "pause", name).ExitCode);
        var rm = Driver.Engine(engine, "rm", "-f", name);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        WaitForJob(job, state => state is not ("RUNNING" or "PENDING" or "COMPLETING"), release);
    }

    /// <summary>The last tick once it stays the last for two reads in a row (what was written before the freeze has arrived).</summary>
    private int SettledLastTick(string engine, string name)
    {
        var last = -1;
        ScrunDriver.WaitFor(() =>
        {
            var before = last;
            last = LastTick(engine, name);
            return last == before;
        }, "the ticks to stop");
        return last;
    }

    private int LastTick(string engine, string name) =>
        System.Text.RegularExpressions.Regex.Matches(Driver.Engine(engine, "logs", name).Stdout, @"tick (\d+)").Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();

    /// <summary>Slurm ends the job a minute in (its time-limit sweep runs every 30 s): one test, Podman only.</summary>
    [Fact]
    public void A_job_past_its_time_limit_ends_the_container_with_the_reason()
    {
        var run = Run("podman", ["--rm", "-e", "SCRUN_TIME_LIMIT=1", Bed.Image, "sleep", "600"], timeout: TimeSpan.FromMinutes(4));
        Assert.Equal(137, run.ExitCode);
        Assert.Matches(@"scrun: error: container [0-9a-f]+: job \d+ reached its time limit\n", run.Stderr);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Hangup_reaches_the_trap_and_the_container_goes_on(string engine)
    {
        var name = StartDetached(engine, "22.05", "trap 'echo got-hup' HUP; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var kill = Bed.Run(Cli(engine), "kill", "-s", "HUP", name);
        Assert.True(kill.ExitCode == 0, kill.ToString());
        WaitForLog(engine, name, "got-hup");
        var inspect = Bed.Run(Cli(engine), "inspect", "-f", "{{.State.Running}}", name);
        Assert.Equal("true", inspect.Stdout.Trim());
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Slurm_job_id_joins_an_existing_allocation_and_leaves_it_running(string engine)
    {
        var salloc = Bed.Run("salloc", "--no-shell", "-N1", "-J", UniqueName("existing"));
        var job = System.Text.RegularExpressions.Regex.Match(salloc.Stderr + salloc.Stdout, @"Granted job allocation (\d+)").Groups[1].Value;
        Assert.True(job.Length > 0, salloc.ToString());
        try
        {
            var run = Run(engine, ["--rm", "-e", $"SLURM_JOB_ID={job}", Bed.Image, "sh", "-c", "echo in-job $SLURM_JOB_ID"]);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal($"in-job {job}\n", run.Stdout);
            Assert.Equal("RUNNING", Bed.Run("squeue", "-h", "-j", job, "-o", "%T").Stdout.Trim());
            var newest = Bed.Run("squeue", "--states=all", "-h", "-o", "%i").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Max(uint.Parse);
            Assert.Equal(uint.Parse(job), newest); // no job of its own
        }
        finally
        {
            Bed.Run("scancel", job);
        }
    }

    /// <summary>conmon hands Podman's --preserve-fds to create: refused there, in one line, never a "Bad file descriptor" inside the job.</summary>
    /// <summary>Podman's stop of a container whose TERM trap exits 0: 0, and not one Slurm line, twenty times in a row.</summary>
    [Fact]
    public void A_term_trap_exiting_0_ends_with_0_and_no_slurm_line_twenty_times_in_a_row()
    {
        for (var i = 0; i < 20; i++)
        {
            var name = StartDetached("podman", "22.05", "trap 'echo got-term; exit 0' TERM; while :; do sleep 0.1; done");
            var stop = Driver.Engine("podman", "stop", "-t", "20", name);
            Assert.True(stop.ExitCode == 0, stop.ToString());
            Assert.Equal("0", Wait("podman", name));
            var logs = Driver.Engine("podman", "logs", name);
            Assert.Equal(("got-term\n", ""), (logs.Stdout, logs.Stderr));
            Assert.Equal(0, Driver.Engine("podman", "rm", name).ExitCode);
        }
    }

    /// <summary>
    /// conmon kills the process in --pid-file (the anchor) when --timeout expires, Docker users
    /// kill it by hand: the container ends with the kill's 137 (Podman says -1 for a timeout, as
    /// with runc) and its job is gone, not left holding the node.
    /// </summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public void Killing_the_process_in_the_pid_file_leaves_no_job(string engine)
    {
        var job = UniqueName("pidkill");
        if (engine == "podman")
        {
            var name = Driver.NewName(engine);
            var run = Run(engine, "22.05", ["--name", name, "--timeout", "2", "-e", $"SCRUN_JOB_NAME={job}", Bed.Image, "sleep", "600"]);
            Assert.True(run.ExitCode == 255, run.ToString());
        }
        else
        {
            var name = StartDetached(engine, "22.05", "while :; do sleep 0.1; done", "-e", $"SCRUN_JOB_NAME={job}");
            var pid = Driver.Engine(engine, "inspect", "-f", "{{.State.Pid}}", name).Stdout.Trim();
            Assert.Equal(0, Bed.Run("kill", ["-9", pid]).ExitCode);
            Assert.Equal("137", Wait(engine, name));
        }
        WaitForJob(job, state => state is not ("RUNNING" or "PENDING" or "COMPLETING"));
    }

    /// <summary>
    /// A container with uid mappings of its own (Podman's --uidmap): its root on the node is
    /// another uid, which must pass the state directory (its owner's alone) to reach the staged
    /// bundle. It runs, and the state directory lists nothing to anyone else.
    /// </summary>
    [Fact]
    public void A_container_with_its_own_uid_mappings_runs_from_the_built_in_staging()
    {
        var run = Run("podman", "22.05", ["--rm", "--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536", Bed.Image, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"^0\n\s*0\s+200000\s+65536\n$", run.Stdout);
    }

    [Fact]
    public void Preserved_descriptors_are_refused_at_create()
    {
        var command = string.Join(' ', ["podman run", .. RuntimeFlags("podman", "22.05"), "--rm --preserve-fds 1", Bed.Image, "ls /proc/self/fd/3 3</dev/null"]);
        var run = Bed.Run("sh", ["-c", command], stdin: null); // podman wants descriptor 3 open to preserve it
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("--preserve-fds 1: file descriptors cannot be passed to a container that runs on a compute node", run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void A_command_runc_could_not_exec_fails_at_create_with_runcs_exit_codes(string engine)
    {
        // Podman and Docker read runc's words: not found is 127, not executable 126.
        var missing = Run(engine, ["--rm", Bed.Image, "/no/such-binary"]);
        Assert.True(missing.ExitCode == 127, missing.ToString());
        Assert.Contains("exec: \"/no/such-binary\": stat /no/such-binary: no such file or directory", missing.Stderr);
        var notOnPath = Run(engine, ["--rm", Bed.Image, "no-such-command"]);
        Assert.True(notOnPath.ExitCode == 127, notOnPath.ToString());
        Assert.Contains("exec: \"no-such-command\": executable file not found in $PATH", notOnPath.Stderr);
        var notExecutable = Run(engine, ["--rm", Bed.Image, "/etc/passwd"]);
        Assert.True(notExecutable.ExitCode == 126, notExecutable.ToString());
        Assert.Contains("exec: \"/etc/passwd\": permission denied", notExecutable.Stderr);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Ten_containers_run_at_once(string engine)
    {
        var runs = await Task.WhenAll(Enumerable.Range(0, 10)
            .Select(i => Task.Run(() => Run(engine, ["--rm", Bed.Image, "sh", "-c", $"sleep 0.5; echo container-{i}"]))));
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
        var name = _engines.NewName(engine);
        var cluster = Clusters.Clusters[release];
        var drain = cluster.Tool("scontrol", "update", "nodename=n1", "state=drain", "reason=scrun-pending-test");
        Assert.True(drain.ExitCode == 0, drain.ToString());
        Task<ProcessResult> run;
        try
        {
            run = Task.Run(() => Run(engine, ["--name", name, "-e", $"SCRUN_JOB_NAME={job}", Bed.Image, "echo", "finally"], release: release));
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
        var logs = Bed.Run(Cli(engine), "logs", name);
        Assert.Matches(@"scrun: waiting for job \d+ \(", result.Stderr + logs.Stdout + logs.Stderr);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void A_stage_in_that_never_ends_fails_at_its_limit_and_leaves_no_job(string engine)
    {
        var hang = $"sleep {Random.Shared.Next(6000, 7000)}";
        using var script = Bed.InstallScript($$"""
            function slurm_scrun_stage_in()
              os.execute("{{hang}}")
              return slurm.SUCCESS
            end
            function slurm_scrun_stage_out() return slurm.SUCCESS end
            """);
        var job = UniqueName("hang");
        var name = _engines.NewName(engine);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var run = Run(engine, ["--name", name, "-e", "SCRUN_STAGE_IN_TIMEOUT=3", "-e", $"SCRUN_JOB_NAME={job}", Bed.Image, "true"]);

        Assert.NotEqual(0, run.ExitCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"create took {watch.Elapsed}");
        // The engines run scrun with the default slurm.conf, /etc/slurm/slurm.conf: the script is named from there.
        Assert.Contains("/etc/slurm/scrun.lua: slurm_scrun_stage_in did not finish within 3 s and was stopped", run.Stderr + Bed.Run(Cli(engine), "logs", name));
        WaitForJob(job, state => state is "CANCELLED");
        Assert.Equal(1, Bed.Run("pgrep", "-f", hang).ExitCode); // the hook's command was killed
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void A_scrun_lua_that_does_not_load_fails_with_its_line_and_asks_for_no_job(string engine)
    {
        using var script = Bed.InstallScript("function slurm_scrun_stage_in() end\nlocal broken = nil .. 'x'\n");
        var before = NewestJobId();
        var name = _engines.NewName(engine);
        var run = Run(engine, ["--name", name, Bed.Image, "true"]);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("/etc/slurm/scrun.lua:2: attempt to concatenate a nil value", run.Stderr + Bed.Run(Cli(engine), "logs", name));
        Assert.True(NewestJobId() <= before, "a job was asked for");
    }

    private uint NewestJobId() =>
        Bed.Run("squeue", "--states=all", "-h", "-o", "%i").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(uint.Parse).DefaultIfEmpty(0u).Max();

    private string Cli(string engine) => engine == "docker" ? Bed.DockerCli : "podman";

    private ProcessResult Run(string engine, string[] arguments, string? stdin = null, TimeSpan? timeout = null, string release = "22.05") =>
        Run(engine, release, arguments, stdin, timeout);
}
