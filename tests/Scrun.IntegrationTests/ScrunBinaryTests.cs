using System.Text.Json;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>The published native-AOT binary, as Podman and containerd see it: exit codes, stdout, stderr, log file.</summary>
public sealed class ScrunBinaryTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-binary-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// Without the anchor's variable in the bundle (srun --container, an anchor of a plain oci.conf),
    /// node-run becomes the runtime: exec'd in its place, found in PATH, its exit status its own.
    /// </summary>
    [Fact]
    public void Node_run_without_an_anchor_to_talk_to_becomes_the_runtime()
    {
        var result = ScrunBinary.Run("node-run", "--", "sh", "-c", "echo $PPID; exit 3");
        Assert.Equal(3, result.ExitCode);
        Assert.Equal($"{Environment.ProcessId}\n", result.Stdout); // sh is scrun's process, not its child
        Assert.Equal("", result.Stderr);

        var missing = ScrunBinary.Run("node-run", "--", "/no/such/runtime", "run", "id");
        Assert.Equal(127, missing.ExitCode);
        Assert.Equal("scrun node-run: error: cannot run /no/such/runtime: No such file or directory\n", missing.Stderr);
    }

    [Theory]
    [InlineData("--version")]
    [InlineData("version")]
    public void Version_prints_exactly_two_lines(string verb)
    {
        var result = ScrunBinary.Run(verb);
        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^scrun version \d+\.\d+\.\d+\nspec: 1\.0\.2\n$", result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public void Features_prints_json()
    {
        var result = ScrunBinary.Run("features");
        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("1.0.2", json.RootElement.GetProperty("ociVersionMax").GetString());
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("create --help")]
    [InlineData("kill --help")]
    [InlineData("delete --help")]
    public void Help_goes_to_stdout_with_exit_0(string commandLine)
    {
        var result = ScrunBinary.Run(commandLine.Split(' '));
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Usage:", result.Stdout);
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("--bogus state x")]
    [InlineData("state ../x")]
    [InlineData("kill x NOSIG")]
    [InlineData("create")]
    public void Bad_input_is_one_stderr_line_and_exit_1(string commandLine)
    {
        var result = ScrunBinary.Run(commandLine.Split(' '));
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Single(result.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("scrun: error: ", result.Stderr);
    }

    [Fact]
    public void A_hostile_id_touches_nothing_on_disk()
    {
        var root = Path.Combine(_directory, "root");
        var result = ScrunBinary.Run("--root", root, "create", "--bundle", _directory, "--pid-file", Path.Combine(_directory, "pid"), "../escape");
        Assert.Equal(1, result.ExitCode);
        Assert.False(Directory.Exists(root));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_directory));
    }

    /// <summary>Podman passes --preserve-fds for run --preserve-fds and for systemd's LISTEN_FDS: refused at once, never a "Bad file descriptor" in the job.</summary>
    [Theory]
    [InlineData("create")]
    [InlineData("run")]
    public void Preserved_descriptors_are_refused_by_create_and_run_and_nothing_is_made(string verb)
    {
        var root = Path.Combine(_directory, "root");
        var result = ScrunBinary.Run("--root", root, verb, "--preserve-fds", "2", "--bundle", _directory, "c1");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("scrun: error: --preserve-fds 2: file descriptors cannot be passed to a container that runs on a compute node\n", result.Stderr);
        Assert.False(Directory.Exists(root));
    }

    [Fact]
    public void Errors_reach_the_json_log_file_the_way_containerd_reads_it()
    {
        var log = Path.Combine(_directory, "log.json");
        var result = ScrunBinary.Run("--root", _directory, "--log", log, "--log-format", "json", "start", "abc");
        Assert.NotEqual(0, result.ExitCode);
        using var line = JsonDocument.Parse(Assert.Single(File.ReadAllLines(log)));
        Assert.Equal("error", line.RootElement.GetProperty("level").GetString());
        Assert.Equal("container \"abc\" does not exist", line.RootElement.GetProperty("msg").GetString());
    }

    [Theory]
    [InlineData("SCRUN_DEBUG", "loud")]
    [InlineData("SCRUN_FILE_DEBUG", "debug9x")]
    [InlineData("SCRUN_LOG_FORMAT", "xml")]
    public void A_bad_logging_variable_is_one_line_and_exit_1(string name, string value)
    {
        var result = ProcessRunner.Run(ScrunBinary.Path, ["--root", _directory, "state", "abc"], new Dictionary<string, string> { [name] = value });
        Assert.Equal(1, result.ExitCode);
        Assert.Single(result.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("scrun: error: ", result.Stderr);
        Assert.Contains(name, result.Stderr);
    }

    [Fact]
    public void Scrun_log_format_overrides_the_flag_callers_hard_wire()
    {
        var log = Path.Combine(_directory, "log.json");
        var result = ProcessRunner.Run(ScrunBinary.Path, ["--root", _directory, "--log", log, "--log-format", "json", "start", "abc"],
            new Dictionary<string, string> { ["SCRUN_LOG_FORMAT"] = "json-file" });
        Assert.Equal(1, result.ExitCode);
        using var line = JsonDocument.Parse(Assert.Single(File.ReadAllLines(log)));
        Assert.Equal("error: container \"abc\" does not exist\n", line.RootElement.GetProperty("log").GetString());
        Assert.Equal("stderr", line.RootElement.GetProperty("stream").GetString());
    }

    [Fact]
    public void Check_reports_a_missing_slurm_conf_and_fails()
    {
        var result = ScrunBinary.Run("-f", Path.Combine(_directory, "missing.conf"), "check");
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("FAILED  slurm.conf: slurm.conf not found at", result.Stdout);
    }

    [Fact]
    public void Ignored_runc_flags_leave_a_debug_line()
    {
        var result = ScrunBinary.Run("--debug", "--systemd-cgroup", "--cgroup-manager", "cgroupfs", "version");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("scrun: debug: ignoring --systemd-cgroup", result.Stderr);
        Assert.Contains("scrun: debug: ignoring --cgroup-manager cgroupfs", result.Stderr);
    }

    /// <summary>
    /// SCRUN_BUILD_RUNTIME: every verb Buildah calls for a podman build RUN step (the id
    /// buildah-buildahN, create's bundle buildahN) becomes that runtime, with scrun's arguments as
    /// they came; nothing of scrun's is made.
    /// </summary>
    [Fact]
    public void A_build_steps_verbs_become_the_build_runtime_with_their_arguments()
    {
        var runtime = BuildRuntime();
        var bundle = Path.Combine(_directory, "buildah82373899");
        Directory.CreateDirectory(bundle);
        var root = Path.Combine(_directory, "root");
        string[][] verbs =
        [
            ["create", "--bundle", bundle, "--pid-file", Path.Combine(bundle, "pid"), "--no-new-keyring", "buildah-buildah82373899"],
            ["start", "buildah-buildah82373899"],
            ["state", "buildah-buildah82373899"],
            ["kill", "buildah-buildah82373899", "SIGKILL"],
            ["delete", "buildah-buildah82373899"],
        ];
        foreach (var verb in verbs)
        {
            string[] argv = ["--root", root, .. verb];
            var result = ProcessRunner.Run(ScrunBinary.Path, argv, new Dictionary<string, string> { ["SCRUN_BUILD_RUNTIME"] = runtime });
            Assert.Equal((0, $"{string.Join('\n', argv)}\n", ""), (result.ExitCode, result.Stdout, result.Stderr));
        }
        Assert.False(Directory.Exists(root));
    }

    /// <summary>
    /// With SCRUN_BUILD_RUNTIME set, what is not a build step stays scrun's: another id, a step's
    /// id with another bundle, a step's id whose container scrun holds. A relative path is refused.
    /// </summary>
    [Fact]
    public void Only_build_steps_go_to_the_build_runtime()
    {
        var environment = new Dictionary<string, string> { ["SCRUN_BUILD_RUNTIME"] = BuildRuntime() };
        var root = Path.Combine(_directory, "root");

        var other = ProcessRunner.Run(ScrunBinary.Path, ["--root", root, "state", "c1"], environment);
        Assert.Equal((1, "", "scrun: error: container \"c1\" does not exist\n"), (other.ExitCode, other.Stdout, other.Stderr));

        var elsewhere = ProcessRunner.Run(ScrunBinary.Path, ["--root", root, "create", "--bundle", _directory, "buildah-buildah1"], environment);
        Assert.Equal(1, elsewhere.ExitCode);
        Assert.Matches(@"^scrun: error: .*config\.json", elsewhere.Stderr); // scrun's own create read the bundle

        Directory.CreateDirectory(Path.Combine(root, "buildah-buildah1"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var held = ProcessRunner.Run(ScrunBinary.Path, ["--root", root, "state", "buildah-buildah1"], environment);
        Assert.Equal((1, ""), (held.ExitCode, held.Stdout));
        Assert.StartsWith("scrun: error: ", held.Stderr);

        var relative = ProcessRunner.Run(ScrunBinary.Path, ["--root", root, "state", "buildah-buildah2"], new Dictionary<string, string> { ["SCRUN_BUILD_RUNTIME"] = "runc" });
        Assert.Equal((1, "scrun: error: SCRUN_BUILD_RUNTIME=runc is not valid: expected the absolute path of a runtime such as /usr/sbin/runc\n"), (relative.ExitCode, relative.Stderr));
    }

    /// <summary>A runtime that prints the arguments it was given, one a line.</summary>
    private string BuildRuntime()
    {
        var runtime = Path.Combine(_directory, "build-runtime");
        File.WriteAllText(runtime, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n");
        File.SetUnixFileMode(runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return runtime;
    }
}
