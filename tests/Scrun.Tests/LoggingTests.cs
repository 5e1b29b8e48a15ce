using Scrun.Containers;
using System.Text.Json;
using Scrun.Logging;
using Xunit;

namespace Scrun.Tests;

public sealed class LoggingTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-logging-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Json_log_file_lines_are_what_containerd_and_podman_parse()
    {
        var path = Path.Combine(_directory, "log.json");
        var stderr = new StringWriter();
        using (var log = ScrunLogging.Create(new LogSettings { File = path, Format = LogFormat.Json }, stderr))
        {
            log.Error("container {Id} failed:\n{Reason}", "abc", "no \"job\"");
            log.Debug("not at the default level");
        }

        var line = Assert.Single(File.ReadAllLines(path));
        using var json = JsonDocument.Parse(line);
        Assert.Equal(["level", "msg", "time"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("error", json.RootElement.GetProperty("level").GetString());
        Assert.Equal("container abc failed: no \"job\"", json.RootElement.GetProperty("msg").GetString());
        Assert.True(DateTimeOffset.TryParse(json.RootElement.GetProperty("time").GetString(), out _));
        Assert.Matches(GoTime, line); // containerd reads the raw text: "+" escaped as \u002B hid every create error from Docker
        Assert.Equal("scrun: error: container abc failed: no \"job\"\n", stderr.ToString());
    }

    [Fact]
    public void Text_log_file_lines_are_logfmt_like_runc()
    {
        var path = Path.Combine(_directory, "log.txt");
        using (var log = ScrunLogging.Create(new LogSettings { File = path, Debug = true }, new StringWriter()))
        {
            log.Debug("ignoring {Flag}", "--systemd-cgroup");
        }
        Assert.Matches("^time=\"[^\"]+\" level=debug msg=\"ignoring --systemd-cgroup\"$", Assert.Single(File.ReadAllLines(path)));
    }

    [Fact]
    public void Log_file_is_appended_not_truncated()
    {
        var path = Path.Combine(_directory, "log.json");
        File.WriteAllText(path, "{\"level\":\"info\",\"msg\":\"earlier\",\"time\":\"2026-01-01T00:00:00Z\"}\n");
        using (var log = ScrunLogging.Create(new LogSettings { File = path, Format = LogFormat.Json }, new StringWriter()))
        {
            log.Warning("later");
        }
        Assert.Equal(2, File.ReadAllLines(path).Length);
    }

    [Theory]
    [InlineData(0, false, false)]
    [InlineData(1, false, true)]
    [InlineData(0, true, true)]
    public void Debug_lines_need_debug_or_v(int verbosity, bool debug, bool shown)
    {
        var stderr = new StringWriter();
        using (var log = ScrunLogging.Create(new LogSettings { Verbosity = verbosity, Debug = debug }, stderr))
        {
            log.Debug("detail");
            log.Information("progress");
        }
        Assert.Equal((shown ? "scrun: debug: detail\n" : "") + "scrun: progress\n", stderr.ToString());
    }

    [Fact]
    public void An_unwritable_log_file_is_a_warning_not_a_crash()
    {
        var stderr = new StringWriter();
        using (var log = ScrunLogging.Create(new LogSettings { File = Path.Combine(_directory, "missing", "log.json") }, stderr))
        {
            log.Error("still reported");
        }
        Assert.Contains("scrun: warning: cannot open log file", stderr.ToString());
        Assert.EndsWith("scrun: error: still reported\n", stderr.ToString());
    }
    [Theory]
    [InlineData("quiet", SlurmLogLevel.Quiet)]
    [InlineData("FATAL", Serilog.Events.LogEventLevel.Fatal)]
    [InlineData("error", Serilog.Events.LogEventLevel.Error)]
    [InlineData("info", Serilog.Events.LogEventLevel.Information)]
    [InlineData("verbose", Serilog.Events.LogEventLevel.Debug)]
    [InlineData("debug", Serilog.Events.LogEventLevel.Debug)]
    [InlineData("debug3", Serilog.Events.LogEventLevel.Verbose)]
    [InlineData("0", SlurmLogLevel.Quiet)]
    [InlineData("3", Serilog.Events.LogEventLevel.Information)]
    [InlineData("5", Serilog.Events.LogEventLevel.Debug)]
    [InlineData("42", Serilog.Events.LogEventLevel.Verbose)]
    public void Slurm_level_names_and_numbers_map_to_levels(string text, Serilog.Events.LogEventLevel expected)
    {
        Assert.True(SlurmLogLevel.TryParse(text, out var level));
        Assert.Equal(expected, level);
    }

    [Theory]
    [InlineData("loud")]
    [InlineData("-1")]
    [InlineData("")]
    public void Anything_else_is_no_level(string text) => Assert.False(SlurmLogLevel.TryParse(text, out _));

    [Fact]
    public void Scrun_debug_sets_both_levels_and_the_specific_variables_win()
    {
        var environment = new Dictionary<string, string> { ["SCRUN_DEBUG"] = "error", ["SCRUN_FILE_DEBUG"] = "debug2" };
        var levels = LogLevels.Resolve(new LogSettings(), environment.GetValueOrDefault);
        Assert.Equal(new LogLevels(Serilog.Events.LogEventLevel.Error, Serilog.Events.LogEventLevel.Verbose), levels);
    }

    [Fact]
    public void Flags_can_only_make_a_variable_level_more_talkative()
    {
        var environment = new Dictionary<string, string> { ["SCRUN_STDERR_DEBUG"] = "error" };
        var levels = LogLevels.Resolve(new LogSettings { Debug = true }, environment.GetValueOrDefault);
        Assert.Equal(new LogLevels(Serilog.Events.LogEventLevel.Debug, Serilog.Events.LogEventLevel.Debug), levels);
    }

    [Fact]
    public void A_variable_that_is_no_level_is_refused_by_name()
    {
        var environment = new Dictionary<string, string> { ["SCRUN_SYSLOG_DEBUG"] = "loud" };
        var e = Assert.Throws<LogConfigurationException>(() => LogLevels.Resolve(new LogSettings(), environment.GetValueOrDefault));
        Assert.StartsWith("invalid SCRUN_SYSLOG_DEBUG=loud", e.Message);
    }

    [Fact]
    public void Json_file_lines_are_dockers_container_log_format_with_their_stream()
    {
        var path = Path.Combine(_directory, "log.json");
        using (var log = ScrunLogging.Create(new LogSettings { File = path, Format = LogFormat.DockerJsonFile, Debug = true }, new StringWriter()))
        {
            log.Error("no job for {Id}", "abc");
            log.Information("allocated");
        }
        var lines = File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.Equal(["log", "stream", "time"], lines[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal("error: no job for abc\n", lines[0].GetProperty("log").GetString());
        Assert.Equal("stderr", lines[0].GetProperty("stream").GetString());
        Assert.Equal("allocated\n", lines[1].GetProperty("log").GetString());
        Assert.True(DateTimeOffset.TryParse(lines[1].GetProperty("time").GetString(), out _));
        Assert.All(File.ReadAllLines(path), line => Assert.Matches(GoTime, line));
    }

    /// <summary>RFC 3339 as Go's time.Time.UnmarshalJSON takes it, on the unescaped JSON text.</summary>
    private const string GoTime = @"""time"":""\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)""";
}
