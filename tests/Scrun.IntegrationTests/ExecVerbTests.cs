using System.Globalization;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// scrun's exec, pause and resume called as runc's callers call them, on the bed's 22.05: with
/// each step launcher, with nodes that run scrun node-run and nodes that run runc alone, and
/// with what goes wrong.
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed class ExecVerbTests(TestbedFixture bed) : IDisposable
{
    private readonly ScrunDriver _verbs = new(bed, "scrun-exec-");

    public void Dispose() => _verbs.Dispose();

    public static TheoryData<string, bool> LaunchersAndNodes => new()
    {
        { "native", true }, { "srun", true }, { "native", false }, { "srun", false },
    };

    /// <summary>
    /// The process runs in the container (its PID namespace, its files), with its own streams
    /// and exit code, and the pid in --pid-file is the relay's, which ends with it; with the
    /// step launched natively or by srun, and with oci.conf's RunTimeRun through scrun node-run
    /// or plain runc (its RunTimeQuery is what exec needs).
    /// </summary>
    [Theory]
    [MemberData(nameof(LaunchersAndNodes))]
    public void Exec_runs_in_the_container_with_its_streams_and_exit_code(string launcher, bool nodeRun)
    {
        var environment = new Dictionary<string, string> { ["SCRUN_STEP_LAUNCHER"] = launcher };
        if (!nodeRun)
        {
            environment["SLURM_CONF"] = PlainRuncSlurmConf();
        }
        var id = StartSleeping(environment);
        var pidFile = Path.Combine(_verbs.Directory, "exec.pid");
        var exec = _verbs.ScrunWith(environment, "exec", "--pid-file", pidFile, "--env", "PATH=/bin", "--cwd", "/tmp", id, "sh", "-c", "echo out; echo err >&2; pwd; cat /proc/1/cmdline | tr '\\0' ' '; exit 5");
        Assert.True(exec.ExitCode == 5, exec.ToString());
        Assert.Equal("out\n/tmp\n/bin/sleep 600 \n", exec.Stdout);
        Assert.Equal("err\n", exec.Stderr);
        var relay = int.Parse(File.ReadAllText(pidFile), CultureInfo.InvariantCulture);
        Assert.False(Directory.Exists($"/proc/{relay}"), "the relay outlived its process");
    }

    /// <summary>A signal sent to the relay (the pid the caller holds) reaches the process; the relay killed takes the process and its step with it.</summary>
    [Fact]
    public async Task The_relays_signals_reach_the_process_and_its_death_ends_it()
    {
        var job = ScrunDriver.UniqueName("exec-signals");
        var id = StartSleeping(new(), job);
        var pidFile = Path.Combine(_verbs.Directory, "trap.pid");
        var marker = $"/dev/shm/trap-set-{Guid.NewGuid():n}"; // the image is read-only
        var trapped = Task.Run(() => _verbs.Scrun("exec", "--pid-file", pidFile, "--env", "PATH=/bin", id, "sh", "-c", $"trap 'rm -f {marker}; echo got-usr1; exit 9' USR1; touch {marker}; while :; do sleep 0.1; done"));
        // The signal is sent once the trap is set (a second exec sees its marker), not merely once the step exists.
        ScrunDriver.WaitFor(() => _verbs.Scrun("exec", "--env", "PATH=/bin", id, "sh", "-c", $"test -e {marker}").ExitCode == 0, "the exec's trap to be set");
        ScrunDriver.WaitFor(() => File.Exists(pidFile) && File.ReadAllText(pidFile).Length > 0, "the exec's pid file");
        var relay = File.ReadAllText(pidFile);
        Assert.Equal(0, bed.Run("kill", "-USR1", relay).ExitCode);
        var result = await trapped;
        Assert.Equal(9, result.ExitCode);
        Assert.Contains("got-usr1", result.Stdout);

        var killedPid = Path.Combine(_verbs.Directory, "killed.pid");
        var killed = Task.Run(() => _verbs.Scrun("exec", "--pid-file", killedPid, "--env", "PATH=/bin", id, "sleep", "977"));
        ScrunDriver.WaitFor(() => File.Exists(killedPid) && File.ReadAllText(killedPid).Length > 0, "the second exec's pid file");
        ScrunDriver.WaitFor(() => Execs(job) == 1, "the second exec's step");
        Assert.Equal(0, bed.Run("kill", "-KILL", File.ReadAllText(killedPid)).ExitCode);
        Assert.Equal(137, (await killed).ExitCode);
        ScrunDriver.WaitFor(() => Execs(job) == 0, "the killed relay's step to end");
        ScrunDriver.WaitFor(() => bed.Run("pgrep", "-f", "sleep 977").ExitCode == 1, "the killed relay's process to end");
        Assert.Equal("running", _verbs.Status(id));
    }

    /// <summary>An exec running when the container ends ends too, with the container's end: its relay exits, no step is left.</summary>
    [Fact]
    public async Task An_exec_ends_when_its_container_ends()
    {
        var job = ScrunDriver.UniqueName("exec-ends");
        var id = StartSleeping(new(), job);
        var pidFile = Path.Combine(_verbs.Directory, "long.pid");
        var exec = Task.Run(() => _verbs.Scrun("exec", "--pid-file", pidFile, "--env", "PATH=/bin", id, "sleep", "600"));
        ScrunDriver.WaitFor(() => Execs(job) == 1, "the exec's step");
        Assert.Equal(0, _verbs.Scrun("kill", id, "KILL").ExitCode);
        Assert.NotEqual(0, (await exec).ExitCode);
        _verbs.WaitForStatus(id, "stopped");
        Assert.Equal(0, _verbs.Scrun("delete", id).ExitCode);
        _verbs.AssertNoLiveJob(job);
    }

    [Fact]
    public void Exec_refuses_what_it_cannot_run_in_one_line()
    {
        var id = StartSleeping(new());
        var missing = Path.Combine(_verbs.Directory, "missing.json");
        var broken = Path.Combine(_verbs.Directory, "broken.json");
        File.WriteAllText(broken, "{\"args\":");
        var empty = Path.Combine(_verbs.Directory, "empty.json");
        File.WriteAllText(empty, "{\"args\":[]}");
        (string[] Arguments, string Message)[] cases =
        [
            (["exec", "nosuch", "true"], "container \"nosuch\" does not exist"),
            (["exec", "../x", "true"], "invalid container id \"../x\""),
            (["exec", "--process", missing, id], $"cannot read --process {missing}"),
            (["exec", "--process", broken, id], $"--process {broken} is not JSON"),
            (["exec", "--process", empty, id], $"--process {empty} is not an OCI process"),
            (["exec", id], "exec needs a command, or --process FILE"),
            (["exec", "--tty", id, "sh"], "exec --tty needs --console-socket"),
            (["exec", "--user", "nobody", id, "true"], "--user nobody: expected UID[:GID]"),
            (["resume", id], "container not paused (running)"),
            (["pause", "nosuch"], "container \"nosuch\" does not exist"),
        ];
        foreach (var (arguments, message) in cases)
        {
            var result = _verbs.Scrun(arguments);
            Assert.True(result.ExitCode == 1, $"{string.Join(' ', arguments)}: {result}");
            Assert.StartsWith("scrun: error: ", result.Stderr, StringComparison.Ordinal);
            Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
            Assert.Single(result.Stderr.TrimEnd('\n').Split('\n'));
        }
        Assert.Equal("running", _verbs.Status(id));
    }

    /// <summary>pause freezes the container on its node (runc says paused there), scrun's state says paused and exec is refused; resume thaws it; kill of a paused container thaws it first and ends it.</summary>
    [Theory]
    [InlineData("native")]
    [InlineData("srun")]
    public void Pause_and_resume_freeze_and_thaw_the_container_on_its_node(string launcher)
    {
        var job = ScrunDriver.UniqueName("pause");
        var id = StartSleeping(new() { ["SCRUN_STEP_LAUNCHER"] = launcher }, job);
        var jobId = _verbs.JobIdOf(job);
        Assert.Equal(0, _verbs.Scrun("pause", id).ExitCode);
        Assert.Equal("paused", _verbs.Status(id));
        Assert.Equal("paused", NodeStatus(jobId));
        var refused = _verbs.Scrun("exec", id, "true");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("cannot exec in a paused container", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("container not running (paused)", _verbs.Scrun("pause", id).Stderr, StringComparison.Ordinal);

        Assert.Equal(0, _verbs.Scrun("resume", id).ExitCode);
        Assert.Equal("running", _verbs.Status(id));
        Assert.Equal("running", NodeStatus(jobId));

        Assert.Equal(0, _verbs.Scrun("pause", id).ExitCode);
        var kill = _verbs.Scrun("kill", id, "KILL");
        Assert.True(kill.ExitCode == 0, kill.ToString());
        _verbs.WaitForStatus(id, "stopped");
        Assert.Equal(0, _verbs.Scrun("delete", id).ExitCode);
        _verbs.AssertNoLiveJob(job);
    }

    /// <summary>A container that runs <c>sleep 600</c>, started.</summary>
    private string StartSleeping(Dictionary<string, string> environment, string? job = null)
    {
        var id = _verbs.NewId();
        var create = _verbs.Create(_verbs.Bundle(["sleep", "600"], job ?? ScrunDriver.UniqueName("exec")), id, environment: environment);
        Assert.True(create.ExitCode == 0, create.ToString());
        var start = _verbs.ScrunWith(environment, "start", id);
        Assert.True(start.ExitCode == 0, start.ToString());
        return id;
    }

    /// <summary>slurm.conf in a directory of its own whose oci.conf runs plain runc on the nodes (RunTimeQuery as the bed's).</summary>
    private string PlainRuncSlurmConf()
    {
        var conf = _verbs.SlurmConfWith(line => line);
        var oci = Path.Combine(Path.GetDirectoryName(conf)!, "oci.conf");
        File.WriteAllLines(oci, File.ReadAllLines(oci).Select(line => line.StartsWith("RunTimeRun=", StringComparison.Ordinal)
            ? $"RunTimeRun=\"exec /usr/sbin/runc --root={bed.Environment["TESTBED_DIR"]}/oci-root run --bundle %b %n.%u.%j.%s.%t\""
            : line));
        return conf;
    }

    /// <summary>How many exec steps the job has.</summary>
    private int Execs(string job) =>
        bed.Run("squeue", "-h", "-s", "-j", _verbs.JobIdOf(job), "-o", "%100j").Stdout.Split('\n').Count(name => name.Trim() == "scrun-exec");

    /// <summary>What the node's runc says of the job's container.</summary>
    private string NodeStatus(string jobId)
    {
        var list = bed.Run("runc", "--root", Path.Combine(bed.Environment["TESTBED_DIR"], "oci-root"), "list", "-f", "json");
        using var json = System.Text.Json.JsonDocument.Parse(list.Stdout);
        return json.RootElement.EnumerateArray().Single(c => c.GetProperty("id").GetString()!.Contains($".{jobId}.", StringComparison.Ordinal)).GetProperty("status").GetString()!;
    }
}
