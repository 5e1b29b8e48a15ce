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
}
