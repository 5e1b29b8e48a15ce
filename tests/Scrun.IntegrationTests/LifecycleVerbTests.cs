using System.Text.Json;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// scrun's OCI verbs called directly, the way conmon and containerd-shim call them, against the
/// bed's real Slurm: every state transition, and every refusal with its one-line error.
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed class LifecycleVerbTests(TestbedFixture bed) : IDisposable
{
    private readonly TestbedFixture _bed = bed;
    private readonly ScrunDriver _verbs = new(bed);

    [Theory]
    [InlineData("native")]
    [InlineData("srun")]
    public void A_container_goes_from_created_to_running_to_stopped_and_is_deleted(string launcher)
    {
        var job = UniqueName("life");
        // It runs until told to end (USR1), so "running" is seen however slow the machine is.
        var bundle = Bundle(["sh", "-c", "trap 'exit 4' USR1; echo to-out; echo to-err >&2; while :; do sleep 0.1; done"], job);
        var pidFile = Path.Combine(_verbs.Directory, "pid");
        var id = NewId();

        var create = Create(bundle, id, ["--pid-file", pidFile], environment: new() { ["SCRUN_STEP_LAUNCHER"] = launcher });
        Assert.True(create.ExitCode == 0, create.ToString());
        var created = State(id);
        Assert.Equal("created", created.GetProperty("status").GetString());
        Assert.Equal(File.ReadAllText(pidFile).Trim(), created.GetProperty("pid").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(bundle, created.GetProperty("bundle").GetString());
        Assert.Equal("RUNNING", JobState(job)); // allocated at create, as Slurm's scrun does

        var start = Scrun("start", id);
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.Equal("running", State(id).GetProperty("status").GetString());
        WaitFor(() => File.ReadAllText(StdoutOf(id)) == "to-out\n", "the container to write");
        Assert.Equal(0, Scrun("kill", id, "USR1").ExitCode);

        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the container to stop");
        Assert.Equal("to-out\n", File.ReadAllText(StdoutOf(id)));
        Assert.Contains("to-err\n", File.ReadAllText(StderrOf(id)));
        WaitFor(() => JobState(job) is "FAILED", "the job to end with the container's exit code 4");

        var delete = Scrun("delete", id);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        var state = Scrun("state", id);
        Assert.Equal(1, state.ExitCode);
        Assert.Equal($"scrun: error: container \"{id}\" does not exist\n", state.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
    }

    [Fact]
    public void A_login_node_without_srun_in_its_path_runs_containers()
    {
        // The staged image is a bind mount that slurmstepd must see: hiding srun in a mount
        // namespace would hide the image too. No srun on PATH, and the launcher the anchor names.
        var log = Path.Combine(_verbs.Directory, "no-srun.log");
        var job = UniqueName("no-srun");
        var id = NewId();
        var create = Create(Bundle(["sh", "-c", "read line; echo \"got $line\"; echo oops >&2; exit 5"], job), id,
            environment: new() { ["PATH"] = "/nonexistent" }, globals: ["--log", log, "--debug"]);
        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Equal(0, Scrun("start", id).ExitCode);
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the container to stop");
        Assert.Equal("got \n", File.ReadAllText(StdoutOf(id))); // its stdin is /dev/null
        Assert.Equal("oops\n", File.ReadAllText(StderrOf(id)));
        WaitFor(() => JobState(job) is "FAILED", "the job to end with the container's exit code 5");
        Assert.Contains("step launcher native (Slurm 22.05, no switch plugin)", File.ReadAllText(log), StringComparison.Ordinal);
        Assert.Equal(0, Scrun("delete", id).ExitCode);
    }

    [Fact]
    public void After_its_first_conversation_scrun_sends_slurmctld_nothing_it_must_refuse()
    {
        // 22.05 logs every message in a wire format it cannot read; the first anchor of a root
        // probes and remembers, every later one (and every later verb) speaks 22.05 at once.
        var log = Path.Combine(_bed.Environment["TESTBED_DIR"], "slurm", "log", "slurmctld.log");
        var before = Refusals(log);
        RunToTheEnd();
        var learning = Refusals(log) - before;
        RunToTheEnd();
        RunToTheEnd();
        Assert.Equal(learning, Refusals(log) - before);
        Assert.True(learning <= 3, $"the first probe was refused {learning} times");
    }

    /// <summary>create, start, state, delete of a container that exits at once.</summary>
    private void RunToTheEnd()
    {
        var id = NewId();
        Assert.Equal(0, Create(Bundle(["true"]), id).ExitCode);
        Assert.Equal(0, Scrun("start", id).ExitCode);
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the container to stop");
        Assert.Equal(0, Scrun("delete", id).ExitCode);
    }

    /// <summary>slurmctld's log lines for a message in a wire format it does not speak.</summary>
    private static int Refusals(string log) =>
        File.ReadLines(log).Count(line => line.Contains("Incompatible versions of client and server code", StringComparison.Ordinal));

    [Fact]
    public void The_most_detailed_log_never_holds_a_credential()
    {
        var log = Path.Combine(_verbs.Directory, "debug.log");
        var id = NewId();
        var create = Create(Bundle(["true"]), id, environment: new() { ["SCRUN_DEBUG"] = "debug5" }, globals: ["--log", log, "--debug"]);
        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Equal(0, Scrun("start", id).ExitCode);
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the container to stop");
        Assert.Equal(0, Scrun("delete", id).ExitCode);
        var text = File.ReadAllText(log);
        Assert.Contains("level=debug", text);
        Assert.DoesNotContain("MUNGE:", text);
    }

    [Fact]
    public void Wrong_transitions_are_refused_with_one_line_each()
    {
        var bundle = Bundle(["sh", "-c", "echo ready; while :; do sleep 0.2; done"]);
        var id = NewId();
        Assert.Equal(0, Create(bundle, id).ExitCode);

        AssertRefused(Create(bundle, id), $"container \"{id}\" already exists");
        Assert.Equal("created", State(id).GetProperty("status").GetString());

        Assert.Equal(0, Scrun("start", id).ExitCode);
        AssertRefused(Scrun("start", id), $"cannot start container \"{id}\": it is already running");
        AssertRefused(Scrun("delete", id), $"cannot delete container \"{id}\" that is not stopped: running");

        Assert.Equal(0, Scrun("kill", id, "KILL").ExitCode);
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the killed container to stop");
        AssertRefused(Scrun("kill", id, "TERM"), $"cannot kill container \"{id}\": container not running");
        AssertRefused(Scrun("start", id), $"cannot start container \"{id}\": it has stopped");
        Assert.Equal(0, Scrun("delete", id).ExitCode);
    }

    [Fact]
    public async Task Concurrent_starts_launch_one_step()
    {
        // The container runs until killed: a start that comes late finds it running, not stopped.
        var id = NewId();
        Assert.Equal(0, Create(Bundle(["sh", "-c", "echo launched; while :; do sleep 0.2; done"]), id).ExitCode);
        var starts = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Task.Run(() => Scrun("start", id))));
        Assert.Single(starts, s => s.ExitCode == 0);
        Assert.All(starts.Where(s => s.ExitCode != 0), s => Assert.Contains("already running", s.Stderr));
        // start returns once the step is launched, not once the shell has written: a KILL sent at
        // once may land before the echo.
        WaitFor(() => File.ReadAllText(StdoutOf(id)) == "launched\n", "the container to write");
        Assert.Equal(0, Scrun("kill", id, "KILL").ExitCode);
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the container to stop");
        Assert.Equal("launched\n", File.ReadAllText(StdoutOf(id)));
    }

    [Fact]
    public void Kill_accepts_all_as_runc_callers_pass_it()
    {
        var id = NewId();
        Assert.Equal(0, Create(Bundle(["sh", "-c", "while :; do sleep 0.2; done"]), id).ExitCode);
        Assert.Equal(0, Scrun("start", id).ExitCode);
        var kill = Scrun("kill", "--all", id, "9");
        Assert.True(kill.ExitCode == 0, kill.ToString());
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the killed container to stop");
    }

    [Fact]
    public void Killing_a_created_container_ends_it_and_cancels_its_job()
    {
        var job = UniqueName("kill-created");
        var id = NewId();
        Assert.Equal(0, Create(Bundle(["true"], job), id).ExitCode);
        Assert.Equal("RUNNING", JobState(job));

        Assert.Equal(0, Scrun("kill", id, "TERM").ExitCode);
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the created container to stop");
        WaitFor(() => JobState(job) is "CANCELLED", "its job to be cancelled");
        Assert.Equal(0, Scrun("delete", id).ExitCode);
    }

    [Fact]
    public async Task Force_delete_of_a_container_whose_job_pends_cancels_it_and_fails_create()
    {
        var job = UniqueName("pending-delete");
        var id = NewId();
        var drain = _bed.Run("scontrol", "update", "nodename=n1", "state=drain", "reason=scrun-pending-delete");
        Assert.True(drain.ExitCode == 0, drain.ToString());
        try
        {
            var create = Task.Run(() => Create(Bundle(["true"], job), id, environment: new() { ["SCRUN_QUIET"] = "0" }));
            WaitFor(() => JobState(job) is "PENDING", "the job to pend");
            WaitFor(() => File.Exists(StderrOf(id)) && File.ReadAllText(StderrOf(id)).Contains("waiting for job", StringComparison.Ordinal), "the anchor to say it waits");
            Assert.Equal("creating", State(id).GetProperty("status").GetString());

            var delete = Scrun("delete", "--force", id);
            Assert.True(delete.ExitCode == 0, delete.ToString());
            var created = await create.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(created.ExitCode == 1, created.ToString());
            Assert.Matches(@"^scrun: waiting for job \d+ \(", created.Stderr); // the anchor's, as salloc says it
            Assert.EndsWith("scrun: error: the container was stopped before its job started\n", created.Stderr);
            WaitFor(() => JobState(job) is "CANCELLED", "the pending job to be cancelled");
            Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
        }
        finally
        {
            _bed.Run("scontrol", "update", "nodename=n1", "state=resume");
        }
    }

    [Fact]
    public async Task Scrun_quiet_keeps_the_waiting_line_off_the_containers_stderr()
    {
        var job = UniqueName("quiet");
        var id = NewId();
        var log = Path.Combine(_verbs.Directory, "quiet.log");
        var drain = _bed.Run("scontrol", "update", "nodename=n1", "state=drain", "reason=scrun-quiet");
        Assert.True(drain.ExitCode == 0, drain.ToString());
        try
        {
            var create = Task.Run(() => Create(Bundle(["true"], job), id, environment: new() { ["SCRUN_QUIET"] = "1" }, globals: ["--log", log, "--debug"]));
            WaitFor(() => File.Exists(log) && File.ReadAllText(log).Contains("waiting for job", StringComparison.Ordinal), "the anchor to see its job pend");
            _bed.Run("scontrol", "update", "nodename=n1", "state=resume");
            var created = await create.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(created.ExitCode == 0, created.ToString());
            Assert.Equal("", File.ReadAllText(StderrOf(id)));
        }
        finally
        {
            _bed.Run("scontrol", "update", "nodename=n1", "state=resume");
        }
    }

    [Fact]
    public async Task Force_delete_during_stage_in_interrupts_it_cancels_the_job_and_fails_create()
    {
        var hang = $"sleep {Random.Shared.Next(7000, 8000)}";
        var conf = SlurmConfWith(line => line);
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(conf)!, "scrun.lua"), $$"""
            function slurm_scrun_stage_in()
              slurm.allocator_command("{{hang}}")
              return slurm.SUCCESS
            end
            function slurm_scrun_stage_out() return slurm.SUCCESS end
            """);
        var job = UniqueName("stage-delete");
        var id = NewId();
        var create = Task.Run(() => Create(Bundle(["true"], job), id, environment: new() { ["SLURM_CONF"] = conf }));
        WaitFor(() => _bed.Run("pgrep", "-f", hang).ExitCode == 0, "stage-in to run its command");
        Assert.Equal("creating", State(id).GetProperty("status").GetString());

        var delete = Scrun("delete", "--force", id);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        var created = await create.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(created.ExitCode == 1, created.ToString());
        Assert.Equal("scrun: error: the container was stopped during stage-in\n", created.Stderr);
        WaitFor(() => JobState(job) is "CANCELLED", "the job to be cancelled");
        Assert.Equal(1, _bed.Run("pgrep", "-f", hang).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
    }

    [Fact]
    public void Stage_in_runs_commands_on_the_jobs_node_and_here_and_stage_out_follows_the_step()
    {
        var conf = SlurmConfWith(line => line);
        var record = Path.Combine(_verbs.Directory, "hooks.log");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(conf)!, "scrun.lua"), $$"""
            local function note(text)
              local file = assert(io.open("{{record}}", "a"))
              file:write(text, "\n")
              file:close()
            end
            function slurm_scrun_stage_in(id, bundle, spool_dir, config_file, job_id, user_id, group_id, job_env)
              local status, output = slurm.remote_command("echo remote $SLURMD_NODENAME $SLURM_JOB_ID")
              note("in " .. job_id .. " " .. status .. " " .. output:gsub("%s+$", ""))
              status, output = slurm.allocator_command("echo local $SCRUN_CONTAINER_ID $SLURM_JOB_NODELIST $SLURM_JOB_NUM_NODES $SLURM_JOB_PARTITION")
              note("in " .. status .. " " .. output:gsub("%s+$", ""))
              return slurm.SUCCESS
            end
            function slurm_scrun_stage_out(id, bundle, orig_bundle, root_path, orig_root_path, spool_dir, config_file, job_id)
              note("out " .. job_id)
              return slurm.SUCCESS
            end
            """);
        var job = UniqueName("hooks");
        var id = NewId();
        var create = Create(_verbs.Bundle(["true"], job, linkedRootfs: true), id, environment: new() { ["SLURM_CONF"] = conf });
        Assert.True(create.ExitCode == 0, create.ToString());
        var jobId = JobIdOf(job);
        Assert.Equal([$"in {jobId} 0 remote n1 {jobId}", $"in 0 local {id} n1 1 debug"], File.ReadAllLines(record));

        var start = Scrun("start", id);
        Assert.True(start.ExitCode == 0, start.ToString());
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the container to stop");
        Assert.Equal($"out {jobId}", File.ReadAllLines(record)[^1]);
    }

    /// <summary>
    /// The anchor (the pid in --pid-file) killed outright, and nobody calls delete: the job is
    /// ended all the same, state says stopped, and a plain delete removes everything.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_anchor_killed_with_sigkill_leaves_no_job_even_without_a_delete(bool started)
    {
        var job = UniqueName(started ? "killed-running" : "killed-created");
        var id = NewId();
        var pidFile = Path.Combine(_verbs.Directory, $"{id}.pid");
        Assert.Equal(0, Create(Bundle(["sh", "-c", "while :; do sleep 0.2; done"], job), id, ["--pid-file", pidFile]).ExitCode);
        if (started)
        {
            Assert.Equal(0, Scrun("start", id).ExitCode);
        }
        Assert.Equal("RUNNING", JobState(job));

        Assert.Equal(0, _bed.Run("kill", "-KILL", File.ReadAllText(pidFile).Trim()).ExitCode);
        _verbs.AssertNoLiveJob(job);
        if (!started)
        {
            Assert.Equal("CANCELLED", JobState(job));
        }
        Assert.Equal("stopped", State(id).GetProperty("status").GetString());

        var delete = Scrun("delete", id);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
    }

    [Fact]
    public void Force_delete_of_a_running_container_ends_its_job()
    {
        var job = UniqueName("force");
        var id = NewId();
        Assert.Equal(0, Create(Bundle(["sh", "-c", "while :; do sleep 0.2; done"], job), id).ExitCode);
        Assert.Equal(0, Scrun("start", id).ExitCode);

        var delete = Scrun("delete", "--force", id);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Equal(1, Scrun("state", id).ExitCode);
        WaitFor(() => JobState(job) is not ("RUNNING" or "COMPLETING"), "the job to end");
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
    }

    /// <summary>
    /// As containerd and conmon may: signals the moment start returns. start returns once the
    /// container's process runs on the node (scrun node-run says so), and the signals reach that
    /// process alone: no trap missed, no child of it killed, no Slurm line in its output.
    /// </summary>
    [Fact]
    public void Signals_right_after_start_reach_the_containers_traps_and_nothing_else()
    {
        var job = UniqueName("traps");
        var id = NewId();
        var bundle = Bundle(["sh", "-c", "trap 'echo got-usr1' USR1; trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.1; done"], job);
        Assert.Equal(0, Create(bundle, id).ExitCode);
        var start = Scrun("start", id);
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.Equal(0, Scrun("kill", id, "USR1").ExitCode);
        Assert.Equal(0, Scrun("kill", id, "TERM").ExitCode);

        WaitFor(() => JobState(job) is "COMPLETED", "the job to end with the trap's exit code 0");
        Assert.Equal("ready\ngot-usr1\ngot-term\n", File.ReadAllText(StdoutOf(id)));
        var stderr = File.ReadAllText(StderrOf(id));
        Assert.DoesNotContain("CANCELLED", stderr);
        Assert.DoesNotContain("signal", stderr); // a sleep killed by the signal: "User defined signal 1"
        Assert.DoesNotContain("Terminated", stderr);
        Assert.Equal(0, Scrun("delete", id).ExitCode);
    }

    /// <summary>
    /// A bundle with uid mappings of its own, as a runc caller in the host's mount namespace
    /// passes it: the built-in staging bind-mounts its rootfs where the mapped root may pass
    /// (the state root 0711, the bundle under an unguessable name), and removes it with the container.
    /// </summary>
    [Fact]
    public void A_container_with_uid_mappings_runs_from_the_built_in_staging_and_the_state_stays_unlisted()
    {
        var job = UniqueName("mapped");
        var id = NewId();
        var bundle = Bundle(["sh", "-c", "id -u; cat /proc/self/uid_map"], job);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!;
        var linux = config["linux"]!.AsObject();
        linux["namespaces"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject { ["type"] = "user" });
        linux["uidMappings"] = System.Text.Json.Nodes.JsonNode.Parse("""[{"containerID":0,"hostID":200000,"size":65536}]""");
        linux["gidMappings"] = System.Text.Json.Nodes.JsonNode.Parse("""[{"containerID":0,"hostID":200000,"size":65536}]""");
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        const UnixFileMode passable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(_verbs.Directory, passable); // the state root's parents are the site's: /run is passable

        Assert.Equal(0, Create(bundle, id).ExitCode);
        var start = Scrun("start", id);
        Assert.True(start.ExitCode == 0, start.ToString());
        WaitFor(() => JobState(job) is "COMPLETED", "the job to end with exit code 0");
        Assert.Matches(@"^0\n\s*0\s+200000\s+65536\n$", File.ReadAllText(StdoutOf(id)));
        Assert.Equal(passable, File.GetUnixFileMode(_verbs.Root));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_verbs.Root, id)));

        Assert.Equal(0, Scrun("delete", id).ExitCode);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_verbs.Root, "staged@mapped")));
    }

    /// <summary>What runc refuses on the node, before the container's process exists, is start's error, in runc's words.</summary>
    [Fact]
    public void A_runc_error_on_the_node_fails_start_with_runcs_line()
    {
        var job = UniqueName("noderr");
        var id = NewId();
        var bundle = Bundle(["echo", "never"], job);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!;
        config["linux"]!["sysctl"] = new System.Text.Json.Nodes.JsonObject { ["kernel.scrun_bogus"] = "1" };
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        Assert.Equal(0, Create(bundle, id).ExitCode);

        var start = Scrun("start", id);
        Assert.Equal(1, start.ExitCode);
        Assert.Equal("scrun: error: the container could not start on its node: runc run failed: sysctl \"kernel.scrun_bogus\" is not in a separate kernel namespace\n", start.Stderr);
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the container to stop");
        WaitFor(() => JobState(job) is "FAILED", "the job to end with runc's exit code");
        Assert.Equal(0, Scrun("delete", id).ExitCode);
        Assert.Equal("", File.ReadAllText(StdoutOf(id)));
    }

    /// <summary>
    /// run in the foreground is create, start, wait and delete: the container's output is run's
    /// own (the anchor has run's stdio), run exits with the container's exit code once its job has
    /// ended, and nothing is left.
    /// </summary>
    [Fact]
    public void Run_in_the_foreground_gives_the_containers_output_and_exit_code_and_leaves_nothing()
    {
        var job = UniqueName("run");
        var id = NewId();
        var run = Run(Bundle(["sh", "-c", "echo out; exit 4"], job), id);
        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.Equal("out\n", run.Stdout);
        Assert.Equal("", run.Stderr);
        AssertRefused(Scrun("state", id), $"container \"{id}\" does not exist");
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
        WaitFor(() => JobState(job) is "FAILED", "the job to end with the container's exit code 4");
    }

    [Fact]
    public void Run_with_keep_leaves_the_stopped_container_to_delete()
    {
        var id = NewId();
        var run = Run(Bundle(["true"]), id, ["--keep"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("stopped", State(id).GetProperty("status").GetString());
        Assert.Equal(0, Scrun("delete", id).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
    }

    [Fact]
    public void Run_detached_returns_once_the_container_runs_and_leaves_it_running()
    {
        var id = NewId();
        var run = RunDetached(Bundle(["sh", "-c", "echo up; while :; do sleep 0.2; done"]), id);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("running", State(id).GetProperty("status").GetString());
        WaitFor(() => File.ReadAllText(StdoutOf(id)) == "up\n", "the container to write");

        Assert.Equal(0, Scrun("kill", id, "KILL").ExitCode);
        WaitFor(() => State(id).GetProperty("status").GetString() == "stopped", "the killed container to stop");
        Assert.Equal(0, Scrun("delete", id).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
    }

    /// <summary>The signals run receives are the container's, in the order they came (runc's run forwards them); its exit code follows.</summary>
    [Fact]
    public async Task Signals_sent_to_run_reach_the_container()
    {
        var id = NewId();
        var pidOfRun = Path.Combine(_verbs.Directory, "run.pid");
        var bundle = Bundle(["sh", "-c", "trap 'echo got-usr1' USR1; trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done"]);
        var running = Task.Run(() => _verbs.Run(bundle, id, pidOfRun: pidOfRun));
        WaitFor(() => Scrun("state", id) is { ExitCode: 0 } state && state.Stdout.Contains("\"running\"", StringComparison.Ordinal), "run to start the container");
        var pid = File.ReadAllText(pidOfRun).Trim();

        Assert.Equal(0, _bed.Run("kill", "-USR1", pid).ExitCode);
        Assert.Equal(0, _bed.Run("kill", "-TERM", pid).ExitCode);
        var run = await running.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == 7, run.ToString());
        Assert.Equal("ready\ngot-usr1\ngot-term\n", run.Stdout);
        AssertRefused(Scrun("state", id), $"container \"{id}\" does not exist");
    }

    /// <summary>A container that cannot start is run's failure with start's line, and is deleted: nothing of it is left.</summary>
    [Fact]
    public void Run_of_a_container_that_cannot_start_fails_with_starts_error_and_leaves_nothing()
    {
        var job = UniqueName("run-noderr");
        var id = NewId();
        var bundle = Bundle(["echo", "never"], job);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!;
        config["linux"]!["sysctl"] = new System.Text.Json.Nodes.JsonObject { ["kernel.scrun_bogus"] = "1" };
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());

        var run = Run(bundle, id);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.EndsWith("scrun: error: the container could not start on its node: runc run failed: sysctl \"kernel.scrun_bogus\" is not in a separate kernel namespace\n", run.Stderr);
        Assert.Equal("", run.Stdout);
        AssertRefused(Scrun("state", id), $"container \"{id}\" does not exist");
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
        _verbs.AssertNoLiveJob(job);
    }

    [Theory]
    [InlineData("state")]
    [InlineData("start")]
    [InlineData("kill")]
    [InlineData("delete")]
    public void An_unknown_id_is_one_line_and_exit_1(string verb)
    {
        AssertRefused(Scrun(verb, "no-such-container"), "container \"no-such-container\" does not exist");
    }

    [Fact]
    public void Force_delete_of_an_unknown_id_succeeds_as_with_runc()
    {
        var delete = Scrun("delete", "--force", "no-such-container");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Equal("", delete.Stderr);
    }

    [Theory]
    [InlineData("missing", "config.json")]
    [InlineData("{ not json", "config.json")]
    [InlineData("""{"ociVersion":"1.0.2","root":{"path":"rootfs"}}""", "process")]
    [InlineData("""{"ociVersion":"1.0.2","process":{"args":["true"],"cwd":"/"}}""", "root")]
    [InlineData("""{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":[],"cwd":"/"}}""", "args")]
    public void A_broken_bundle_is_refused_and_leaves_nothing_behind(string config, string mentioned)
    {
        var bundle = Path.Combine(_verbs.Directory, "broken");
        Directory.CreateDirectory(Path.Combine(bundle, "rootfs"));
        if (config != "missing")
        {
            File.WriteAllText(Path.Combine(bundle, "config.json"), config);
        }
        var id = NewId();
        var create = Create(bundle, id);
        AssertRefused(create, null);
        Assert.Contains(mentioned, create.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
        Assert.Equal(1, Scrun("state", id).ExitCode);
    }

    [Fact]
    public void An_unreachable_slurmctld_fails_create_clearly_and_leaves_nothing_behind()
    {
        var conf = SlurmConfWith(line => line.StartsWith("SlurmctldPort=", StringComparison.Ordinal) ? "SlurmctldPort=1" : line);
        var id = NewId();
        var create = Create(Bundle(["true"]), id, environment: new() { ["SLURM_CONF"] = conf });
        AssertRefused(create, null);
        Assert.Contains("slurmctld", create.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
    }

    [Fact]
    public void A_dead_munged_fails_create_clearly_and_leaves_nothing_behind()
    {
        var conf = SlurmConfWith(line => line.StartsWith("AuthType=", StringComparison.Ordinal)
            ? line + "\nAuthInfo=socket=" + Path.Combine(_verbs.Directory, "no-munged.socket")
            : line);
        var id = NewId();
        var create = Create(Bundle(["true"]), id, environment: new() { ["SLURM_CONF"] = conf });
        AssertRefused(create, null);
        Assert.Contains("munge", create.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.False(Directory.Exists(Path.Combine(_verbs.Root, id)));
    }

    public void Dispose() => _verbs.Dispose();

    private static void AssertRefused(ProcessResult result, string? message) => ScrunDriver.AssertRefused(result, message);

    private string NewId() => _verbs.NewId();

    private static string UniqueName(string prefix) => ScrunDriver.UniqueName(prefix);

    private string Bundle(string[] args, string? jobName = null) => _verbs.Bundle(args, jobName);

    private string StdoutOf(string id) => _verbs.StdoutOf(id);

    private string StderrOf(string id) => _verbs.StderrOf(id);

    private ProcessResult Create(string bundle, string id, string[]? flags = null, Dictionary<string, string>? environment = null, string[]? globals = null) =>
        _verbs.Create(bundle, id, flags, environment, globals);

    private ProcessResult Run(string bundle, string id, string[]? flags = null) => _verbs.Run(bundle, id, flags);

    private ProcessResult RunDetached(string bundle, string id) => _verbs.RunDetached(bundle, id);

    private ProcessResult Scrun(params string[] arguments) => _verbs.Scrun(arguments);

    private JsonElement State(string id) => _verbs.State(id);

    private string? JobState(string jobName) => _verbs.JobState(jobName);

    private string JobIdOf(string jobName) => _verbs.JobIdOf(jobName);

    private string SlurmConfWith(Func<string, string> edit) => _verbs.SlurmConfWith(edit);

    private static void WaitFor(Func<bool> condition, string what) => ScrunDriver.WaitFor(condition, what);
}
