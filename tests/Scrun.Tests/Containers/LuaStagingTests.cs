using System.Diagnostics;
using System.Text.Json.Nodes;
using Scrun.Containers;
using Scrun.Containers.Oci;
using Scrun.Containers.Staging;
using Scrun.Slurm.Config;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>A site's scrun.lua as the anchor runs it: its hooks, their results, and their limits.</summary>
public sealed class LuaStagingTests : IDisposable
{
    private const string PassingHooks = """
        function slurm_scrun_stage_in() return slurm.SUCCESS end
        function slurm_scrun_stage_out() return slurm.SUCCESS end

        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-lua-staging-").FullName;
    private readonly List<LogEvent> _events = [];
    private readonly ILogger _log;

    public LuaStagingTests() =>
        _log = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(new CollectingSink(_events)).CreateLogger();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_paths_the_script_sets_are_staged_and_stage_out_sees_both_bundles()
    {
        using var staging = Load(PassingHooks + """
            function slurm_scrun_stage_in(id, bundle, spool_dir, config_file, job_id, user_id, group_id, job_env)
              slurm.set_bundle_path("/staged/" .. id)
              slurm.set_root_path("/staged/" .. id .. "/rootfs")
              return slurm.SUCCESS
            end
            function slurm_scrun_stage_out(id, bundle, orig_bundle, root_path, orig_root_path, spool_dir, config_file, job_id, user_id, group_id)
              slurm.log_info("out %s|%s|%s|%s|%s|%s|%s|%d|%d|%d", id, bundle, orig_bundle, root_path, orig_root_path,
                spool_dir, config_file, job_id, user_id, group_id)
              return slurm.SUCCESS
            end
            """);
        var context = Context();
        var staged = await staging.StageInAsync(context, CancellationToken.None);
        Assert.Equal(new StagedBundle("/staged/c1", "/staged/c1/rootfs"), staged);

        await staging.StageOutAsync(context, CancellationToken.None);
        var bundle = context.Config.Bundle;
        Assert.Contains($"lua: out c1|/staged/c1|{bundle}|/staged/c1/rootfs|{bundle}/rootfs|{context.Paths.Directory}/|{bundle}/config.json|42|1000|100", Messages());
    }

    [Fact]
    public async Task A_script_that_changes_nothing_runs_the_callers_bundle()
    {
        using var staging = Load(PassingHooks);
        var context = Context();
        var staged = await staging.StageInAsync(context, CancellationToken.None);
        Assert.Equal(new StagedBundle(context.Config.Bundle, context.Config.RootPath), staged);
    }

    [Fact]
    public async Task Stage_in_sees_the_job_environment_as_a_sequence()
    {
        using var staging = Load(PassingHooks + """
            function slurm_scrun_stage_in(id, bundle, spool_dir, config_file, job_id, user_id, group_id, job_env)
              slurm.log_info("env %s", table.concat(job_env, ","))
              return slurm.SUCCESS
            end
            """);
        await staging.StageInAsync(Context(), CancellationToken.None);
        Assert.Contains("lua: env SCRUN_CONTAINER_ID=c1,SLURM_JOB_ID=42", Messages());
    }

    [Fact]
    public async Task Log_user_reaches_the_user_not_only_the_log()
    {
        var said = new List<string>();
        var path = WriteScript(PassingHooks + """
            function slurm_scrun_stage_in(id)
              slurm.log_user("copying %s to scratch", id)
              return slurm.SUCCESS
            end
            """);
        using var staging = LuaStaging.LoadIfPresent(path, _log, StagingLimits.Default, new OciConfig(), null, said.Add)!;
        await staging.StageInAsync(Context(), CancellationToken.None);
        Assert.Equal(["copying c1 to scratch"], said);
    }

    [Fact]
    public async Task A_non_zero_return_fails_stage_in_naming_the_script()
    {
        using var staging = Load(PassingHooks + "function slurm_scrun_stage_in() return 3 end\n");
        var error = await Assert.ThrowsAsync<ContainerException>(() => staging.StageInAsync(Context(), CancellationToken.None));
        Assert.Equal($"{staging.ScriptPath}: slurm_scrun_stage_in returned 3", error.Message);
    }

    [Fact]
    public async Task A_lua_error_fails_stage_in_with_the_scripts_line()
    {
        using var staging = Load(PassingHooks + "function slurm_scrun_stage_in()\n  error('no rootfs here')\nend\n");
        var error = await Assert.ThrowsAsync<ContainerException>(() => staging.StageInAsync(Context(), CancellationToken.None));
        Assert.Equal($"slurm_scrun_stage_in failed: {staging.ScriptPath}:4: no rootfs here", error.Message);
    }

    [Fact]
    public void A_script_that_does_not_load_is_a_container_error_with_its_line()
    {
        var path = WriteScript("function slurm_scrun_stage_in() end\nlocal broken = nil + 1\n");
        var error = Assert.Throws<ContainerException>(() => LuaStaging.LoadIfPresent(path, _log, StagingLimits.Default, new OciConfig(), null));
        Assert.Contains($"{path}:2: attempt to perform arithmetic on a nil value", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Without_a_script_there_is_no_lua_staging()
    {
        Assert.Null(LuaStaging.LoadIfPresent(Path.Combine(_directory, "scrun.lua"), _log, StagingLimits.Default, new OciConfig(), null));
    }

    [Fact]
    public void A_dangling_link_is_no_script()
    {
        var link = Path.Combine(_directory, "scrun.lua");
        File.CreateSymbolicLink(link, Path.Combine(_directory, "not-there.lua"));
        Assert.Null(LuaStaging.LoadIfPresent(link, _log, StagingLimits.Default, new OciConfig(), null));
    }

    [Fact]
    public async Task A_stage_in_past_its_limit_is_stopped_and_its_command_killed()
    {
        var pidFile = Path.Combine(_directory, "command.pid");
        using var staging = Load(PassingHooks + $$"""
            function slurm_scrun_stage_in()
              slurm.allocator_command("echo $$ > {{pidFile}}; exec sleep 311")
              return slurm.SUCCESS
            end
            """, Limits(stageIn: 1));
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ContainerException>(() => staging.StageInAsync(Context(), CancellationToken.None));
        Assert.Equal($"{staging.ScriptPath}: slurm_scrun_stage_in did not finish within 1 s and was stopped", error.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
        var pid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(WaitUntil(() => !Directory.Exists($"/proc/{pid}")), $"the command (pid {pid}) still runs");
    }

    [Fact]
    public async Task A_hook_looping_in_lua_is_stopped_and_stage_out_still_cleans_up()
    {
        using var staging = Load(PassingHooks + """
            function slurm_scrun_stage_in(id)
              slurm.set_bundle_path("/staged/" .. id)
              while true do end
            end
            function slurm_scrun_stage_out(id, bundle)
              slurm.log_info("cleaning %s", bundle)
              return slurm.SUCCESS
            end
            """, Limits(stageIn: 1));
        var context = Context();
        var error = await Assert.ThrowsAsync<ContainerException>(() => staging.StageInAsync(context, CancellationToken.None));
        Assert.Contains("did not finish within 1 s", error.Message);

        await staging.StageOutAsync(context, CancellationToken.None);
        Assert.Contains("lua: cleaning /staged/c1", Messages());
        Assert.DoesNotContain(Messages(), m => m.Contains("abandoned", StringComparison.Ordinal)); // the loop ended
    }

    /// <summary>A loop too short for the count hook: no command may start once the hook is interrupted.</summary>
    [Theory]
    [InlineData("slurm.allocator_command")]
    [InlineData("os.execute")]
    public async Task A_loop_of_commands_starts_none_once_interrupted(string run)
    {
        var started = Path.Combine(_directory, "started");
        using var staging = Load(PassingHooks + $$"""
            function slurm_scrun_stage_in()
              while true do
                {{run}}("echo x >> {{started}}; sleep 0.1")
              end
            end
            """, Limits(stageIn: 1));
        await Assert.ThrowsAsync<ContainerException>(() => staging.StageInAsync(Context(), CancellationToken.None));
        Thread.Sleep(300); // a command that had started has ended (or was killed)
        var count = LineCount(started);
        Assert.True(count > 0, "the loop never ran");
        Thread.Sleep(1000);
        Assert.Equal(count, LineCount(started));
    }

    [Fact]
    public async Task Cancelling_stage_in_kills_its_command_at_once()
    {
        using var staging = Load(PassingHooks + """
            function slurm_scrun_stage_in()
              slurm.allocator_command("sleep 312")
              return slurm.SUCCESS
            end
            """);
        using var delete = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => staging.StageInAsync(Context(), delete.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task The_command_limit_kills_a_command_and_names_it()
    {
        using var staging = Load(PassingHooks + """
            function slurm_scrun_stage_in()
              slurm.allocator_command("sleep 313")
              return slurm.SUCCESS
            end
            """, Limits(command: 1));
        var error = await Assert.ThrowsAsync<ContainerException>(() => staging.StageInAsync(Context(), CancellationToken.None));
        Assert.Contains("slurm.allocator_command(\"sleep 313\") did not finish within 1 s and was killed", error.Message);
    }

    [Fact]
    public async Task A_failing_stage_out_is_logged_and_does_not_throw()
    {
        using var staging = Load(PassingHooks + "function slurm_scrun_stage_out()\n  error('rsync back failed')\nend\n");
        var context = Context();
        await staging.StageInAsync(context, CancellationToken.None);
        await staging.StageOutAsync(context, CancellationToken.None);
        Assert.Contains(Messages(), m => m.Contains("stage-out of container c1 failed", StringComparison.Ordinal)
            && m.Contains("scrun.lua:4: rsync back failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stage_out_does_not_run_without_a_stage_in()
    {
        using var staging = Load(PassingHooks + "function slurm_scrun_stage_out()\n  slurm.log_info('ran')\n  return 0\nend\n");
        await staging.StageOutAsync(Context(), CancellationToken.None);
        Assert.DoesNotContain("lua: ran", Messages());
    }

    [Theory]
    [InlineData(null, 1800.0)]
    [InlineData("5", 5.0)]
    [InlineData("0.5", 0.5)]
    [InlineData("0", -0.001)]
    [InlineData("infinite", -0.001)]
    [InlineData("unlimited", -0.001)]
    public void Limits_come_from_seconds_in_the_variables(string? value, double seconds)
    {
        var variables = value is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [StagingLimits.StageInVariable] = value };
        Assert.Equal(TimeSpan.FromSeconds(seconds), StagingLimits.From(variables).StageIn);
    }

    [Theory]
    [InlineData("SCRUN_STAGE_IN_TIMEOUT", "ten")]
    [InlineData("SCRUN_STAGE_OUT_TIMEOUT", "-3")]
    [InlineData("SCRUN_LUA_COMMAND_TIMEOUT", "5m")]
    public void A_limit_that_is_not_seconds_is_named(string name, string value)
    {
        var error = Assert.Throws<ContainerException>(() => StagingLimits.From(new Dictionary<string, string> { [name] = value }));
        Assert.Equal($"{name}={value} is not a number of seconds", error.Message);
    }

    [Fact]
    public async Task The_minimal_sample_runs_the_callers_bundle_untouched()
    {
        using var staging = LuaStaging.LoadIfPresent(Path.Combine(RepositoryRoot(), "samples", "scrun-minimal.lua"), _log, StagingLimits.Default, new OciConfig(), null)!;
        var context = Context(podmanLike: true);
        var before = File.ReadAllText(Path.Combine(context.Config.Bundle, "config.json"));

        var staged = await staging.StageInAsync(context, CancellationToken.None);
        await staging.StageOutAsync(context, CancellationToken.None);

        Assert.Equal(new StagedBundle(context.Config.Bundle, context.Config.RootPath), staged);
        Assert.Equal(before, File.ReadAllText(Path.Combine(context.Config.Bundle, "config.json")));
        Assert.Contains($"lua: container {context.Id.Value} runs from {context.Config.Bundle} in job 42", Messages());
        Assert.DoesNotContain(_events, e => e.Level >= LogEventLevel.Warning);
    }

    /// <summary>samples/scrun.lua end to end on a Podman-like bundle (the man page's rsync staging, hardened).</summary>
    [Fact]
    public async Task The_rsync_sample_stages_a_rewritten_bundle_and_copies_changes_back()
    {
        using var staging = LuaStaging.LoadIfPresent(Path.Combine(RepositoryRoot(), "samples", "scrun.lua"), _log, StagingLimits.Default, new OciConfig(), null)!;
        var context = Context(podmanLike: true);
        var originalRoot = context.Config.RootPath;
        var staged = await staging.StageInAsync(context, CancellationToken.None);
        var uid = context.UserId; // the job's user, as slurmctld resolved it
        try
        {
            Assert.Equal($"/run/user/{uid}/slurm/scrun/{context.Id.Value}", staged.Bundle);
            Assert.Equal($"{staged.Bundle}/rootfs", staged.RootPath);
            Assert.Equal("root:x:0:0::/root:/bin/sh\n", File.ReadAllText($"{staged.RootPath}/etc/passwd"));
            Assert.Equal("127.0.0.1 localhost\n", File.ReadAllText($"{staged.RootPath}/etc/hosts"));
            Assert.Equal("data\n", File.ReadAllText($"{staged.RootPath}/data/file")); // a directory, not /data/shared/file

            var config = JsonNode.Parse(File.ReadAllText($"{staged.Bundle}/config.json"))!;
            Assert.Equal("1.0.0", (string?)config["ociVersion"]);
            Assert.Equal(staged.RootPath, (string?)config["root"]!["path"]);
            Assert.Contains(config["linux"]!["namespaces"]!.AsArray(), n => (string?)n!["type"] == "user");
            Assert.Equal(uid, (uint)config["linux"]!["uidMappings"]![0]!["hostID"]!);
            Assert.Equal(1000, (int)config["linux"]!["uidMappings"]![0]!["containerID"]!);
            Assert.Null(config["linux"]!["cgroupsPath"]);
            Assert.Null(config["hooks"]);
            Assert.Null(config["process"]!["rlimits"]);
            Assert.Null(config["process"]!["user"]!["additionalGids"]);
            var mounts = config["mounts"]!.AsArray().Select(m => (string?)m!["destination"]).ToList();
            Assert.Equal(["/proc", "/dev/shm"], mounts);
            Assert.Equal(["size=65536k"], config["mounts"]![1]!["options"]!.AsArray().Select(o => (string?)o).ToList());
            Assert.Contains("SLURM_JOB_ID=42", config["process"]!["env"]!.AsArray().Select(e => (string?)e));
            Assert.Contains("PATH=/bin", config["process"]!["env"]!.AsArray().Select(e => (string?)e));

            File.WriteAllText($"{staged.RootPath}/made-in-the-job", "result\n");
        }
        finally
        {
            await staging.StageOutAsync(context, CancellationToken.None);
        }
        Assert.False(Directory.Exists(staged.Bundle), "stage-out left the staged bundle");
        Assert.Equal("result\n", File.ReadAllText($"{originalRoot}/made-in-the-job"));
        Assert.False(File.Exists($"{originalRoot}/etc/hosts"), "the copied bind mount went back into the image");
        Assert.DoesNotContain(_events, e => e.Level >= LogEventLevel.Warning);
    }

    private StagingContext Context(bool podmanLike = false) // podmanLike: a Podman-shaped config.json, staged for this user
    {
        var bundle = Directory.CreateDirectory(Path.Combine(_directory, "bundle")).FullName;
        var rootfs = Directory.CreateDirectory(Path.Combine(bundle, "rootfs")).FullName;
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        Directory.CreateDirectory(Path.Combine(rootfs, "proc"));
        File.WriteAllText(Path.Combine(rootfs, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\n");
        var hosts = Path.Combine(_directory, "hosts");
        File.WriteAllText(hosts, "127.0.0.1 localhost\n");
        var shared = Directory.CreateDirectory(Path.Combine(_directory, "shared")).FullName;
        File.WriteAllText(Path.Combine(shared, "file"), "data\n");
        var config = podmanLike
            ? $$"""
                {"ociVersion":"1.1.0","process":{"user":{"uid":1000,"gid":1000,"additionalGids":[10]},"args":["true"],
                 "env":["PATH=/bin"],"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]},
                 "root":{"path":"{{rootfs}}"},
                 "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                  {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["size=65536k","uid=1000"]},
                  {"destination":"/etc/hosts","type":"bind","source":"{{hosts}}","options":["bind","rprivate"]},
                  {"destination":"/data","type":"bind","source":"{{shared}}","options":["rbind"]}],
                 "hooks":{"prestart":[{"path":"/usr/bin/true"}],"createRuntime":[{"path":"/usr/bin/true"}]},
                 "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}],"cgroupsPath":"machine.slice:libpod:x"} }
                """
            : """{"ociVersion":"1.0.2","process":{"args":["true"],"cwd":"/"},"root":{"path":"rootfs"}}""";
        File.WriteAllText(Path.Combine(bundle, "config.json"), config);
        var id = ContainerId.Parse($"c{(podmanLike ? Guid.NewGuid().ToString("n")[..12] : "1")}");
        var paths = new ContainerPaths(Path.Combine(_directory, "state"), id);
        // The rsync sample writes under /run/user/<job uid>: this user's own directory.
        var (uid, gid) = podmanLike ? (Scrun.Slurm.Interop.ProcessIdentity.Current.Uid, Scrun.Slurm.Interop.ProcessIdentity.Current.Gid) : (1000u, 100u);
        return new StagingContext(id, BundleConfig.Load(bundle), paths, 42, uid, gid,
            new Dictionary<string, string> { ["SCRUN_CONTAINER_ID"] = id.Value, ["SLURM_JOB_ID"] = "42" });
    }

    private LuaStaging Load(string source, StagingLimits? limits = null) =>
        LuaStaging.LoadIfPresent(WriteScript(source), _log, limits ?? StagingLimits.Default, new OciConfig(), null)
            ?? throw new InvalidOperationException("the script was not written");

    private string WriteScript(string source)
    {
        var path = Path.Combine(_directory, "etc", "scrun.lua");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, source);
        return path;
    }

    private static StagingLimits Limits(double? stageIn = null, double? command = null) => StagingLimits.Default with
    {
        StageIn = stageIn is { } s ? TimeSpan.FromSeconds(s) : StagingLimits.Default.StageIn,
        Command = command is { } c ? TimeSpan.FromSeconds(c) : StagingLimits.Default.Command,
    };

    private List<string> Messages()
    {
        lock (_events)
        {
            return _events.Select(e => e.RenderMessage().Replace("\"", "", StringComparison.Ordinal)).ToList();
        }
    }

    private static int LineCount(string path) => File.Exists(path) ? File.ReadAllLines(path).Length : 0;

    private static bool WaitUntil(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(30))
            {
                return false;
            }
            Thread.Sleep(50);
        }
        return true;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Scrun.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Scrun.sln not found above the test binaries");
    }

    private sealed class CollectingSink(List<LogEvent> events) : ILogEventSink
    {
        public void Emit(LogEvent logEvent)
        {
            lock (events)
            {
                events.Add(logEvent);
            }
        }
    }
}
