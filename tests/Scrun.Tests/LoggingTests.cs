using System.Text.Json;
using Scrun.Cli;
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
        using (var log = ScrunLogging.Create(new GlobalOptions { LogFile = path, LogFormat = LogFormat.Json }, stderr))
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
        Assert.Equal("scrun: error: container abc failed: no \"job\"\n", stderr.ToString());
    }

    [Fact]
    public void Text_log_file_lines_are_logfmt_like_runc()
    {
        var path = Path.Combine(_directory, "log.txt");
        using (var log = ScrunLogging.Create(new GlobalOptions { LogFile = path, Debug = true }, new StringWriter()))
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
        using (var log = ScrunLogging.Create(new GlobalOptions { LogFile = path, LogFormat = LogFormat.Json }, new StringWriter()))
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
        using (var log = ScrunLogging.Create(new GlobalOptions { Verbosity = verbosity, Debug = debug }, stderr))
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
        using (var log = ScrunLogging.Create(new GlobalOptions { LogFile = Path.Combine(_directory, "missing", "log.json") }, stderr))
        {
            log.Error("still reported");
        }
        Assert.Contains("scrun: warning: cannot open log file", stderr.ToString());
        Assert.EndsWith("scrun: error: still reported\n", stderr.ToString());
    }
}
