using System.Globalization;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// exec through the engines, for root's engines and the rootless user's, on every release: a
/// process in the running container on its node (an overlapping step running the node's runc
/// exec), as the engines' own exec would be.
/// </summary>
public abstract partial class EngineLifecycleTests
{
    /// <summary>A rootless engine's container maps one user on its node: only that user (0) can run an exec.</summary>
    private bool Rootful => JobOwner.Uid == 0;

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Exec_brings_back_both_streams_and_the_exit_code(string engine, string release)
    {
        var name = StartRunning(engine, release);
        var exec = Driver.Engine(engine, "exec", name, "sh", "-c", "echo out; echo err >&2; exit 5");
        Assert.True(exec.ExitCode == 5, exec.ToString());
        Assert.Equal("out\n", exec.Stdout);
        Assert.Equal("err\n", EngineNoise().Replace(exec.Stderr, ""));
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Exec_takes_stdin_the_environment_the_directory_and_the_user(string engine, string release)
    {
        var name = StartRunning(engine, release);
        var uid = Rootful ? "1000" : "0";
        var exec = Driver.Engine(engine, ["exec", "-i", "-e", "FOO=bar", "-w", "/tmp", "-u", $"{uid}:{uid}", name, "sh", "-c", "cat; pwd; id -u; echo $FOO; exit 4"], stdin: "piped\n");
        Assert.True(exec.ExitCode == 4, exec.ToString());
        Assert.Equal($"piped\n/tmp\n{uid}\nbar\n", exec.Stdout);
    }

    /// <summary>
    /// exec -it under a terminal of a known size: a tty of that size, a typed line read and
    /// echoed, then a resize made once the process has said so, seen inside, and the exit code.
    /// (script's typescript opens with the command line: the pattern waited for is not in it.)
    /// </summary>
    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Exec_with_a_terminal_has_its_size_reads_a_line_and_sees_a_resize(string engine, string release)
    {
        var name = StartRunning(engine, release);
        var typescript = Path.Combine(Path.GetTempPath(), $"scrun-exec-tty-{Guid.NewGuid():n}");
        const string inside = "tty; stty size; read line; echo got:$line; i=0; while [ \"$(stty size)\" != \"40 90\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; echo resized:$(stty size); exit 6";
        var command = $"stty rows 30 cols 100; (while ! grep -q 'got:hel[l]o' {typescript}; do sleep 0.1; done; stty rows 40 cols 90 </dev/tty) & {EngineCommandLine(engine)} exec -it {name} sh -c '{inside}'";
        try
        {
            var run = Bed.Run("script", ["-qfec", command, typescript], stdin: "hello\n", TimeSpan.FromMinutes(2));
            Assert.True(run.ExitCode == 6, run.ToString());
            Assert.Matches(@"/dev/pts/\d+\r?\n30 100\r?\n", run.Stdout);
            Assert.Contains("got:hello", run.Stdout);
            Assert.Contains("resized:40 90", run.Stdout);
        }
        finally
        {
            File.Delete(typescript);
        }
    }

    /// <summary>A detached exec runs on beside the container (a second exec sees it); removing the container by force leaves no step, relay or process of it.</summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public void A_detached_exec_runs_on_and_removing_the_container_leaves_nothing_of_it(string engine)
    {
        var job = UniqueName("exec-d");
        var name = StartRunning(engine, "22.05", "-e", $"SCRUN_JOB_NAME={job}");
        var seconds = Random.Shared.Next(900, 999).ToString(CultureInfo.InvariantCulture);
        var detached = Driver.Engine(engine, "exec", "-d", name, "sleep", seconds);
        Assert.True(detached.ExitCode == 0, detached.ToString());
        ScrunDriver.WaitFor(() => Driver.Engine(engine, "exec", name, "ps").Stdout.Contains($"sleep {seconds}", StringComparison.Ordinal), "the detached exec to show in ps");
        var jobId = FindJob(job)!.Id;
        Assert.Contains(ExecSteps(jobId), step => step == "scrun-exec");

        var rm = engine == "podman" ? Driver.Engine(engine, "rm", "-f", "-t", "1", name) : Driver.Engine(engine, "rm", "-f", name);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        WaitForJob(job, state => state is not ("RUNNING" or "PENDING" or "COMPLETING"));
        ScrunDriver.WaitFor(() => Bed.Run("pgrep", "-f", $"sleep {seconds}").ExitCode == 1, "the exec's process to be gone from the node");
        ScrunDriver.WaitFor(() => !RelayPids().Any(), "the exec's relay to be gone");
    }

    /// <summary>Podman's health check is an exec: twenty of them, all healthy, and not one step left behind.</summary>
    [Fact]
    public void Health_checks_are_execs_that_leave_no_step_behind()
    {
        var job = UniqueName("health");
        var name = StartRunning("podman", "22.05", "-e", $"SCRUN_JOB_NAME={job}", "--health-cmd", "test -e /tmp", "--health-interval", "2s");
        for (var check = 0; check < 20; check++)
        {
            var run = Driver.Engine("podman", "healthcheck", "run", name);
            Assert.True(run.ExitCode == 0, $"check {check}: {run}");
        }
        Assert.Equal("healthy", Driver.Engine("podman", "inspect", "-f", "{{.State.Health.Status}}", name).Stdout.Trim());
        var jobId = FindJob(job)!.Id;
        ScrunDriver.WaitFor(() => !ExecSteps(jobId).Any(), "the checks' steps to end");
        Assert.False(RelayPids().Any(), "a check's relay is still running");
    }

    /// <summary>A running container whose log says it runs.</summary>
    private string StartRunning(string engine, string release, params string[] flags)
    {
        var name = StartDetached(engine, release, "echo ready; while :; do sleep 0.2; done", flags);
        WaitForLog(engine, name, "ready");
        return name;
    }

    /// <summary>The names of the job's exec steps (on 22.05).</summary>
    private IEnumerable<string> ExecSteps(string jobId) =>
        Bed.Run("squeue", "-h", "-s", "-j", jobId, "-o", "%100j").Stdout.Split('\n').Select(name => name.Trim()).Where(name => name == "scrun-exec");

    /// <summary>The exec relays (<c>scrun __exec</c>) running on this host.</summary>
    private static IEnumerable<int> RelayPids()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            string[] arguments;
            try
            {
                arguments = File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0');
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            if (arguments.Length > 1 && Path.GetFileName(arguments[0]) == "scrun" && arguments[1] == "__exec" && int.TryParse(Path.GetFileName(directory), out var pid))
            {
                yield return pid;
            }
        }
    }
}
