using System.Diagnostics;
using Scrun.Containers;
using Scrun.Containers.NodeCommands;
using Scrun.Slurm.Config;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>The node's runtime and the container's id there, from oci.conf's RunTimeQuery; the commands run through a real shell against a fake runtime.</summary>
public sealed class NodeRuntimeTests : IDisposable
{
    private static readonly NodeContainer s_where = new("n1", "alice", 1001, 904, 3);
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-node-runtime-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("/usr/sbin/runc --root=/run/slurm-oci state %n.%u.%j.%s.%t 2>/dev/null || echo {}", "/usr/sbin/runc --root=/run/slurm-oci", "n1.alice.904.3.0")]
    [InlineData("/usr/bin/crun --root /run/x state '%u-%j-%s'", "/usr/bin/crun --root /run/x", "alice-904-3")]
    [InlineData("runc  state  c%%%U.%j", "runc", "c%1001.904")]
    public void The_runtime_is_the_words_before_state_and_the_id_the_word_after(string query, string prefix, string id)
    {
        var runtime = NodeRuntime.From(new OciConfig { RunTimeQuery = query });
        Assert.Equal(prefix, runtime.Prefix);
        Assert.Equal(id, runtime.ContainerId(s_where));
    }

    [Theory]
    [InlineData(null, "oci.conf has no RunTimeQuery")]
    [InlineData("/usr/sbin/runc list", "does not read \"RUNTIME ... state ID\"")]
    [InlineData("state %n", "does not read \"RUNTIME ... state ID\"")]
    [InlineData("runc state %b", "%b, which scrun cannot know on the login node")]
    public void A_query_scrun_cannot_read_is_one_line_saying_why(string? query, string message)
    {
        var e = Assert.Throws<ContainerException>(() => NodeRuntime.From(new OciConfig { RunTimeQuery = query }));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Exec_runs_the_runtime_with_the_process_on_a_descriptor_and_leaves_no_file()
    {
        var runtime = FakeRuntime("running");
        var process = "{\"args\":[\"sh\",\"-c\",\"echo '$HOME' `x` \\\"q\\\"\"],\"env\":[\"A=$B\"]}";
        var (output, exitCode) = Run(runtime.ExecCommand(s_where, process));
        Assert.Equal(0, exitCode);
        Assert.Equal($"exec --process /dev/fd/3 n1.alice.904.3.0\n{process}\n", output);
    }

    [Fact]
    public void Pause_and_resume_name_the_container()
    {
        var runtime = FakeRuntime("running");
        Assert.Equal("pause n1.alice.904.3.0\n", Run(runtime.PauseCommand(s_where)).Output);
        Assert.Equal("resume n1.alice.904.3.0\n", Run(runtime.ResumeCommand(s_where)).Output);
    }

    [Fact]
    public void A_container_whose_step_is_not_known_is_the_running_one_among_the_jobs_steps()
    {
        var runtime = FakeRuntime("running", runningStep: 2);
        var (output, exitCode) = Run(runtime.PauseCommand(s_where with { Step = null }));
        Assert.Equal(0, exitCode);
        Assert.Equal("pause n1.alice.904.2.0\n", output);
    }

    [Fact]
    public void No_running_container_on_the_node_is_an_error()
    {
        var runtime = FakeRuntime("stopped", runningStep: 2);
        var (_, exitCode) = Run(runtime.PauseCommand(s_where with { Step = null }));
        Assert.Equal(255, exitCode);
    }

    /// <summary>Without scrun node-run, start returns before runc has made the container: exec waits for it.</summary>
    [Fact]
    public void A_container_still_being_made_is_waited_for()
    {
        var runtime = FakeRuntime("running", madeAfter: 2) with { Attempts = 5 };
        var (output, exitCode) = Run(runtime.PauseCommand(s_where));
        Assert.Equal(0, exitCode);
        Assert.Equal("pause n1.alice.904.3.0\n", output);
    }

    [Fact]
    public void A_stopped_container_is_an_error_at_once()
    {
        var runtime = FakeRuntime("stopped") with { Attempts = 1000 };
        var (_, exitCode) = Run(runtime.ExecCommand(s_where, "{}"));
        Assert.Equal(255, exitCode);
    }

    [Theory]
    [InlineData("time=\"2026\" level=error msg=\"cannot toggle freezer: cgroups not configured for container\"\n", "cannot toggle freezer: cgroups not configured for container (the node cannot freeze")]
    [InlineData("time=\"x\" level=warning msg=\"runc pause may fail\"\ntime=\"x\" level=error msg=\"container \\\"x\\\" does not exist\"\n", "container \"x\" does not exist")]
    [InlineData("sh: 1: runc: not found\n", "sh: 1: runc: not found")]
    [InlineData("", "the node's runtime exited with 127")]
    public void A_runtimes_failure_comes_down_to_its_error_line(string output, string message)
    {
        Assert.StartsWith(message, RuntimeError.Describe(output, 127), StringComparison.Ordinal);
    }

    /// <summary>
    /// A runtime that prints its verb and id (and for exec the process file's content); state
    /// says <paramref name="status"/> for the given step's id, as runc's indented JSON, once it has
    /// been asked <paramref name="madeAfter"/> times.
    /// </summary>
    private NodeRuntime FakeRuntime(string status, uint runningStep = 3, int madeAfter = 0)
    {
        var path = Path.Combine(_directory, "runtime");
        var asked = Path.Combine(_directory, "asked");
        File.WriteAllText(path, $$"""
            #!/bin/sh
            shift # --root=X
            if [ "$1" = state ]; then
              echo x >> {{asked}}
              if [ "$(wc -l < {{asked}})" -le {{madeAfter}} ]; then echo 'container does not exist' >&2; exit 1; fi
              case "$2" in *.{{runningStep}}.0) printf '{\n  "ociVersion": "1.0.2",\n  "status": "{{status}}",\n  "pid": 9\n}\n';; *) echo 'container does not exist' >&2; exit 1;; esac
              exit 0
            fi
            echo "$@"
            if [ "$1" = exec ]; then cat "$3"; fi
            """);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return NodeRuntime.From(new OciConfig { RunTimeQuery = $"{path} --root=/x state %n.%u.%j.%s.%t" }) with { Attempts = 3 };
    }

    private (string Output, int ExitCode) Run(IReadOnlyList<string> command)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _directory };
        foreach (var argument in command.Skip(1))
        {
            psi.ArgumentList.Add(argument);
        }
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(["asked", "runtime"], Directory.GetFiles(_directory).Select(Path.GetFileName).Order());
        File.Delete(Path.Combine(_directory, "asked"));
        return (output, process.ExitCode);
    }
}
