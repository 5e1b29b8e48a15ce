using System.Text.Json;
using Scrun.Lua;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Xunit;

namespace Scrun.Tests.Lua;

public sealed class StagingScriptTests
{
    private const string Hooks = """
        function slurm_scrun_stage_in(id, bundle, spool_dir, config_file, job_id, user_id, group_id, job_env)
          return slurm.SUCCESS
        end
        function slurm_scrun_stage_out(id, bundle, orig_bundle, root_path, orig_root_path, spool_dir, config_file, job_id, user_id, group_id)
          return slurm.SUCCESS
        end

        """;

    private readonly List<LogEvent> _events = [];
    private readonly ILogger _log;

    public StagingScriptTests() =>
        _log = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(new CollectingSink(_events)).CreateLogger();

    private StagingScript Script(string source) => StagingScript.FromSource(source, _log);

    private static HookContext Context(params string[] environment) =>
        new()
        {
            Bundle = "/spool/c1/bundle",
            RootPath = "/spool/c1/bundle/rootfs",
            JobId = 42,
            JobEnvironment = environment.Select(e => e.Split('=', 2)).ToDictionary(p => p[0], p => p[1]),
        };

    [Fact]
    public void Stage_in_gets_slurms_arguments_in_order_with_their_types_and_job_env_as_a_sequence()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_in(id, bundle, spool_dir, config_file, job_id, user_id, group_id, job_env)
              local seen = {}
              for i, v in ipairs(job_env) do seen[#seen + 1] = v end
              slurm.log_info("%s|%s|%s|%s|%s|%s|%s|%s|%d|%s", id, bundle, spool_dir, config_file,
                math.type(job_id), tostring(job_id), tostring(user_id), tostring(group_id), #job_env, table.concat(seen, ","))
              return slurm.SUCCESS
            end
            """);
        var result = script.RunStageIn(Context("A=1", "B=2"), "c1", "/spool/c1", "/orig/config.json", 1000, 100);
        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("lua: c1|/spool/c1/bundle|/spool/c1|/orig/config.json|integer|42|1000|100|2|A=1,B=2", Message(Assert.Single(_events)));
    }

    [Fact]
    public void The_standard_libraries_are_open_and_require_searches_debians_lua_directories()
    {
        var modules = Directory.CreateTempSubdirectory("scrun-lua-modules-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(modules, "sitehelpers.lua"), "return { answer = function() return 42 end }\n");
            using var script = Script(Hooks + $$"""
                for _, name in ipairs({ "io", "os", "string", "table", "math", "utf8", "package", "coroutine", "debug" }) do
                  assert(type(_G[name]) == "table", name .. " is not open")
                end
                assert(package.path:find("/usr/share/lua/5.4/?.lua", 1, true), package.path)
                assert(package.path:find("/usr/share/lua/5.4/?/init.lua", 1, true), package.path)
                package.path = package.path .. ";{{modules}}/?.lua"
                assert(require("sitehelpers").answer() == 42)
                assert(utf8.len("été") == 3)
                """);
        }
        finally
        {
            Directory.Delete(modules, recursive: true);
        }
    }

    [Fact]
    public void Stage_out_gets_its_ten_arguments_and_a_nil_root_path()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_out(id, bundle, orig_bundle, root_path, orig_root_path, spool_dir, config_file, job_id, user_id, group_id)
              slurm.log_info("%s|%s|%s|%s|%s|%s|%s|%d|%d|%d", id, bundle, orig_bundle, tostring(root_path), orig_root_path,
                spool_dir, config_file, job_id, user_id, group_id)
              return 0
            end
            """);
        var context = Context();
        context.RootPath = null;
        var result = script.RunStageOut(context, "c1", "/orig", "/orig/rootfs", "/spool/c1", "/orig/config.json", 7, 8);
        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("lua: c1|/spool/c1/bundle|/orig|nil|/orig/rootfs|/spool/c1|/orig/config.json|42|7|8", Message(Assert.Single(_events)));
    }

    [Theory]
    [InlineData("return 3", 3, null)]
    [InlineData("return slurm.ERROR", -1, null)]
    [InlineData("return", 0, null)]
    [InlineData("return 'fine'", 0, null)]
    [InlineData("local t = nil; return t.field", -1, "scrun.lua:9: attempt to index a nil value")]
    [InlineData("error('no rootfs')", -1, "scrun.lua:9: no rootfs")]
    public void A_hooks_return_is_its_rc_and_a_lua_error_names_the_line(string body, long rc, string? error)
    {
        using var script = Script(Hooks + "\nfunction slurm_scrun_stage_in()\n" + body + "\nend\n");
        var result = script.RunStageIn(Context(), "c1", "/spool/c1", "/c.json", 0, 0);
        Assert.Equal(rc, result.ReturnCode);
        if (error is null)
        {
            Assert.Null(result.Error);
        }
        else
        {
            Assert.StartsWith("slurm_scrun_stage_in failed: ", result.Error);
            Assert.Contains(error, result.Error);
        }
    }

    [Theory]
    [InlineData("return 1", true, "returned 1 on load (expected slurm.SUCCESS)")]
    [InlineData("function slurm_scrun_stage_in() end", false, "does not define the function slurm_scrun_stage_out")]
    [InlineData("function slurm_scrun_stage_out() end", false, "does not define the function slurm_scrun_stage_in")]
    [InlineData("local x = = 1", true, "scrun.lua:7:")]
    [InlineData("local x = nil .. 'a'", true, "scrun.lua:7: attempt to concatenate a nil value")]
    public void A_script_that_cannot_load_is_one_line_naming_the_script(string source, bool withHooks, string expected)
    {
        var error = Assert.Throws<LuaScriptException>(() => Script(withHooks ? Hooks + source : source));
        Assert.Contains(expected, error.Message);
        Assert.Contains("scrun.lua", error.Message);
        Assert.DoesNotContain("\n", error.Message);
    }

    [Fact]
    public void A_missing_script_is_an_error_naming_it()
    {
        var error = Assert.Throws<LuaScriptException>(() => StagingScript.Load("/nonexistent/scrun.lua", _log));
        Assert.Equal("/nonexistent/scrun.lua: no such file", error.Message);
    }

    [Fact]
    public void Set_bundle_path_and_set_root_path_return_the_originals_and_change_the_context()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_in(id, bundle)
              local old_bundle = slurm.set_bundle_path("/staged/c1")
              local old_root = slurm.set_root_path("/staged/c1/rootfs")
              slurm.log_info("%s %s", old_bundle, old_root)
              return slurm.SUCCESS
            end
            """);
        var context = Context();
        Assert.True(script.RunStageIn(context, "c1", "/spool/c1", "/c.json", 0, 0).Succeeded);
        Assert.Equal("/staged/c1", context.Bundle);
        Assert.Equal("/staged/c1/rootfs", context.RootPath);
        Assert.Equal("lua: /spool/c1/bundle /spool/c1/bundle/rootfs", Message(Assert.Single(_events)));
    }

    [Fact]
    public void Allocator_command_returns_status_and_output_with_the_job_environment()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_in()
              local status, output = slurm.allocator_command("echo job=$SLURM_JOB_ID; echo oops >&2; exit 3")
              slurm.log_info("%d [%s]", status, output)
              return status
            end
            """);
        var result = script.RunStageIn(Context("SLURM_JOB_ID=42", "PATH=/usr/bin:/bin"), "c1", "/s", "/c.json", 0, 0);
        Assert.Equal(3, result.ReturnCode);
        var message = Message(Assert.Single(_events));
        Assert.StartsWith("lua: 3 [", message);
        Assert.Contains("job=42\n", message);
        Assert.Contains("oops\n", message);
    }

    [Fact]
    public void A_command_past_its_timeout_is_killed_with_everything_it_started_and_fails_the_hook()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_in()
              slurm.allocator_command("sleep 397 & sleep 397")
              return slurm.SUCCESS
            end
            """);
        var context = new HookContext { Bundle = "/b", CommandTimeout = TimeSpan.FromMilliseconds(300) };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = script.RunStageIn(context, "c1", "/s", "/c.json", 0, 0);
        Assert.Equal(-1, result.ReturnCode);
        Assert.Contains("scrun.lua:8: slurm.allocator_command(\"sleep 397 & sleep 397\") did not finish within 0.3 s and was killed", result.Error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(System.Diagnostics.Process.GetProcessesByName("sleep"), p => CommandLine(p) == "sleep 397");
    }

    [Theory]
    [InlineData("30", 30)]
    [InlineData("1:30", 2)]
    [InlineData("2:00:00", 120)]
    [InlineData("1-0", 1440)]
    [InlineData("1-2:30", 1590)]
    [InlineData("unlimited", 4294967295)]
    [InlineData("soon", -1)]
    public void Time_str2mins_reads_slurms_formats(string text, long minutes)
    {
        using var script = Script(Hooks + $"\nfunction slurm_scrun_stage_in() return slurm.time_str2mins('{text}') end\n");
        Assert.Equal(minutes, script.RunStageIn(Context(), "c", "/s", "/c", 0, 0).ReturnCode);
    }

    [Fact]
    public void Constants_are_slurms()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_in()
              slurm.log_info("%d %d %d %d %d", slurm.SUCCESS, slurm.ERROR, slurm.NO_VAL, slurm.INFINITE, slurm.ESLURM_INVALID_JOB_ID)
              return 0
            end
            """);
        script.RunStageIn(Context(), "c", "/s", "/c", 0, 0);
        Assert.Equal("lua: 0 -1 4294967294 4294967295 2017", Message(Assert.Single(_events)));
    }

    [Fact]
    public void Print_goes_to_the_log_not_to_the_containers_stdout()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_in()
              print("staging", 42, nil, true)
              return 0
            end
            """);
        Assert.True(script.RunStageIn(Context(), "c", "/s", "/c", 0, 0).Succeeded);
        Assert.Equal(["Information lua: staging\t42\tnil\ttrue"], _events.Select(e => $"{e.Level} {Message(e)}"));
    }

    [Fact]
    public void Os_exit_is_an_error_in_the_hook_instead_of_the_anchors_end()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_in()
              os.exit(1)
            end
            """);
        var result = script.RunStageIn(Context(), "c", "/s", "/c", 0, 0);
        Assert.False(result.Succeeded);
        Assert.Contains("scrun.lua:8: os.exit is not available in scrun.lua: it would end the container's anchor", result.Error);
    }

    [Fact]
    public void Log_functions_keep_their_levels_and_the_lua_prefix()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_in()
              slurm.log_error("e %d", 1); slurm.error("plain"); slurm.log_info("i"); slurm.log_verbose("v")
              slurm.log_debug("d"); slurm.log_debug4("d4"); slurm.log(0, "l%s", "0"); slurm.log_user("u%d", 1)
              return 0
            end
            """);
        script.RunStageIn(Context(), "c", "/s", "/c", 0, 0);
        Assert.Equal(
            ["Error lua: e 1", "Error lua: plain", "Information lua: i", "Debug lua: v", "Debug lua: d", "Verbose lua: d4", "Information lua: l0", "Information lua: u1"],
            _events.Select(e => $"{e.Level} {Message(e)}"));
    }

    [Theory]
    [InlineData("""{"a":[1,2,{"b":null}],"c":"é ✓","d":1.5,"e":-7,"f":true}""")]
    [InlineData("""[[],{},"",0,[1]]""")]
    [InlineData("""{"ociVersion":"1.0.2","process":{"args":["sh","-c","echo hi"],"env":["A=1"]},"mounts":[]}""")]
    public void Json_round_trips_through_lua_tables(string json)
    {
        using var script = Script(Hooks + """
            local json = require 'json'
            function slurm_scrun_stage_in(id)
              slurm.log_info("%s", slurm.to_json(json.decode(id)))
              return 0
            end
            """);
        Assert.True(script.RunStageIn(Context(), json, "/s", "/c", 0, 0).Succeeded);
        var back = Message(Assert.Single(_events))["lua: ".Length..];
        Assert.True(JsonElementComparer(JsonDocument.Parse(json).RootElement, JsonDocument.Parse(back).RootElement), back);
    }

    [Fact]
    public void An_empty_table_is_an_object_a_sequence_an_array_and_a_decoded_empty_array_stays_one()
    {
        using var script = Script(Hooks + """
            local dkjson = require 'dkjson'
            function slurm_scrun_stage_in()
              slurm.log_info("%s %s %s %s", slurm.to_json({}), dkjson.encode({1, 2, 3}), slurm.to_json({[1] = 'a', [3] = 'c'}),
                slurm.to_json(slurm.from_json('{"mounts":[]}')))
              return 0
            end
            """);
        script.RunStageIn(Context(), "c", "/s", "/c", 0, 0);
        Assert.Equal("""lua: {} [1,2,3] {"1":"a","3":"c"} {"mounts":[]}""", Message(Assert.Single(_events)));
    }

    [Fact]
    public void Bad_json_is_a_lua_error_at_the_callers_line()
    {
        using var script = Script(Hooks + "\nfunction slurm_scrun_stage_in()\n  local value = slurm.from_json('{')\n  return value\nend\n");
        var result = script.RunStageIn(Context(), "c", "/s", "/c", 0, 0);
        Assert.Contains("scrun.lua:9: invalid JSON", result.Error);
    }

    [Fact]
    public void Two_thousand_raised_and_caught_errors_leave_the_state_usable()
    {
        using var script = Script(Hooks + """
            function slurm_scrun_stage_in()
              local caught = 0
              for i = 1, 2000 do
                if not pcall(slurm.from_json, "{") then caught = caught + 1 end
                if not pcall(slurm.to_json, function() end) then caught = caught + 1 end
                if not pcall(error, "x") then caught = caught + 1 end
              end
              return caught
            end
            """);
        Assert.Equal(6000, script.RunStageIn(Context(), "c", "/s", "/c", 0, 0).ReturnCode);
        Assert.Equal(6000, script.RunStageIn(Context(), "c", "/s", "/c", 0, 0).ReturnCode);
    }

    private static string Message(LogEvent e) =>
        "lua: " + (e.Properties.TryGetValue("Message", out var value) && value is ScalarValue { Value: string text } ? text : e.RenderMessage());

    private static string CommandLine(System.Diagnostics.Process process)
    {
        try
        {
            return File.ReadAllText($"/proc/{process.Id}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static bool JsonElementComparer(JsonElement a, JsonElement b) => (a.ValueKind, b.ValueKind) switch
    {
        (JsonValueKind.Object, JsonValueKind.Object) =>
            a.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.Null).OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.Name)
                .SequenceEqual(b.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.Name))
            && b.EnumerateObject().All(p => JsonElementComparer(a.GetProperty(p.Name), p.Value)),
        (JsonValueKind.Array, JsonValueKind.Array) =>
            a.GetArrayLength() == b.GetArrayLength() && a.EnumerateArray().Zip(b.EnumerateArray()).All(p => JsonElementComparer(p.First, p.Second)),
        (JsonValueKind.Number, JsonValueKind.Number) => a.GetDouble() == b.GetDouble(),
        _ => a.ToString() == b.ToString() && a.ValueKind == b.ValueKind,
    };

    private sealed class CollectingSink(List<LogEvent> events) : ILogEventSink
    {
        public void Emit(LogEvent logEvent) => events.Add(logEvent);
    }
}
