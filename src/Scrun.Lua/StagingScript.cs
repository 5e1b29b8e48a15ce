using System.Runtime.InteropServices;
using KeraLua;
using Scrun.Slurm;
using Scrun.Slurm.Wire;
using Serilog;
using Serilog.Events;
using LuaState = KeraLua.Lua;

namespace Scrun.Lua;

/// <summary>A script that cannot be loaded, or a hook that failed: one line naming the script and line.</summary>
public sealed class LuaScriptException(string message) : Exception(message);

/// <summary>What a hook returned: 0 for success, else Slurm's rc; <see cref="Error"/> for a Lua error.</summary>
public readonly record struct HookResult(long ReturnCode, string? Error)
{
    public bool Succeeded => ReturnCode == 0 && Error is null;

    public override string ToString() => Error ?? $"returned {ReturnCode}";
}

/// <summary>What the hooks see and may change through <c>slurm.set_bundle_path</c> and <c>slurm.set_root_path</c>.</summary>
public sealed class HookContext
{
    public required string Bundle { get; set; }

    public string? RootPath { get; set; }

    /// <summary>The job's environment: Lua's <c>job_env</c> (as <c>NAME=value</c> strings), and the commands' environment.</summary>
    public IReadOnlyDictionary<string, string> JobEnvironment { get; init; } = new Dictionary<string, string>();

    public uint JobId { get; init; }

    /// <summary>srun and oci.conf's SrunArgs, for <c>slurm.remote_command</c>.</summary>
    public string Srun { get; init; } = "srun";

    public IReadOnlyList<string> SrunArgs { get; init; } = [];

    /// <summary>The limit on each <c>remote_command</c> / <c>allocator_command</c>.</summary>
    public TimeSpan CommandTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>The paths as they are now, for the next hook (a hook still running may change these).</summary>
    public HookContext Copy() => (HookContext)MemberwiseClone();
}

/// <summary>
/// A site's <c>scrun.lua</c> loaded in an embedded Lua 5.4, with Slurm's <c>slurm</c> table.
/// Functions written in C# never raise Lua errors (no longjmp across managed frames): they
/// return <c>ok, value</c> or <c>false, message</c> and the Lua prelude raises.
/// </summary>
public sealed partial class StagingScript : IDisposable
{
    public const string StageIn = "slurm_scrun_stage_in";
    public const string StageOut = "slurm_scrun_stage_out";
    private const string HostKey = "scrun.host";

    // Kept alive for as long as the process: Lua holds pointers to them.
    private static readonly LuaFunction s_log = Log;
    private static readonly LuaFunction s_setBundle = SetBundlePath;
    private static readonly LuaFunction s_setRoot = SetRootPath;
    private static readonly LuaFunction s_command = Command;
    private static readonly LuaFunction s_timeToMinutes = TimeToMinutes;
    private static readonly LuaFunction s_toJson = ToJson;
    private static readonly LuaFunction s_fromJson = FromJson;
    private static readonly LuaFunction s_interrupted = IsInterrupted;
    private static readonly LuaFunction s_logUser = LogUser;

    private readonly LuaState _lua;
    private readonly ILogger _log;
    private readonly string _path;
    private readonly CommandGroups _commands = new();
    private GCHandle _self;
    private HookContext? _context;
    private int _busy;

    static StagingScript() => LuaLibrary.Register();

    private StagingScript(string path, ILogger log)
    {
        _path = path;
        _log = log;
        _lua = new LuaState(openLibs: true) { Encoding = System.Text.Encoding.UTF8 };
        LuaJson.Install(_lua);
        _self = GCHandle.Alloc(this);
        _lua.PushLightUserData(GCHandle.ToIntPtr(_self));
        _lua.SetField((int)LuaRegistry.Index, HostKey);
        InstallSlurmTable();
    }

    /// <summary>
    /// Loads <paramref name="path"/> as Slurm does: the chunk must return <c>slurm.SUCCESS</c> or
    /// nothing, and define both hooks.
    /// </summary>
    public static StagingScript Load(string path, ILogger log)
    {
        var script = new StagingScript(path, log);
        try
        {
            script.Run();
            return script;
        }
        catch
        {
            script.Dispose();
            throw;
        }
    }

    /// <summary>Runs Lua source with the slurm table (tests, and scripts given as text).</summary>
    internal static StagingScript FromSource(string source, ILogger log, string name = "scrun.lua")
    {
        var path = Path.Combine(Path.GetTempPath(), $"scrun-lua-{Guid.NewGuid():n}", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, source);
        try
        {
            return Load(path, log);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    public string ScriptPath => _path;

    /// <summary>
    /// Whether there is a script to load at <paramref name="path"/>: a dangling symbolic link
    /// (which File.Exists reports as present) is no script.
    /// </summary>
    public static bool IsPresent(string path)
    {
        var file = new FileInfo(path);
        return file.Exists && (file.LinkTarget is null || file.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true });
    }

    /// <summary>Where <c>slurm.log_user</c> goes (the container's stderr, as create's); else the log, at info.</summary>
    public Action<string>? UserMessages { get; set; }

    /// <summary>A hook is running (Lua states run one call at a time).</summary>
    public bool Busy => Volatile.Read(ref _busy) != 0;

    /// <summary>
    /// Stops the running hook as far as it can be stopped from outside: its commands are killed
    /// and new ones (and os.execute, io.popen) fail, which raises in the script; a loop in Lua
    /// stops at the next count hook. For good: the state is not for another hook. With
    /// <paramref name="sweepDescendantsOf"/> (a process that runs nothing else, the anchor),
    /// every descendant of that process dies too: what os.execute or io.popen started. Safe from
    /// any thread, and again.
    /// </summary>
    public void Interrupt(int? sweepDescendantsOf = null)
    {
        _commands.Interrupt();
        if (sweepDescendantsOf is { } pid)
        {
            ProcessTree.KillDescendants(pid);
        }
    }

    /// <summary>This state was interrupted: a new hook needs a freshly loaded one.</summary>
    public bool Interrupted => _commands.Interrupted;

    /// <summary>Calls <c>slurm_scrun_stage_in(id, bundle, spool_dir, config_file, job_id, user_id, group_id, job_env)</c>.</summary>
    public HookResult RunStageIn(HookContext context, string id, string spoolDirectory, string configFile, uint userId, uint groupId) =>
        Call(StageIn, context, [id, context.Bundle, spoolDirectory, configFile, (long)context.JobId, (long)userId, (long)groupId, context.JobEnvironment]);

    /// <summary>
    /// Calls <c>slurm_scrun_stage_out(id, bundle, orig_bundle, root_path, orig_root_path, spool_dir,
    /// config_file, job_id, user_id, group_id)</c>.
    /// </summary>
    public HookResult RunStageOut(HookContext context, string id, string originalBundle, string? originalRootPath, string spoolDirectory, string configFile, uint userId, uint groupId) =>
        Call(StageOut, context, [id, context.Bundle, originalBundle, context.RootPath, originalRootPath, spoolDirectory, configFile, (long)context.JobId, (long)userId, (long)groupId]);

    /// <summary>Calls any global function with plain arguments (strings, integers, nil, an environment as a sequence of NAME=value).</summary>
    internal HookResult Call(string function, HookContext context, IReadOnlyList<object?> arguments)
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException($"{_path}: a hook is still running in this Lua state");
        }
        _context = context;
        var top = _lua.GetTop();
        try
        {
            _lua.GetGlobal("debug");
            _lua.GetField(-1, "traceback");
            _lua.Remove(-2);
            var handler = _lua.GetTop();
            if (_lua.GetGlobal(function) != LuaType.Function)
            {
                return new HookResult(-1, $"{_path}: {function} is not a function");
            }
            foreach (var argument in arguments)
            {
                Push(argument);
            }
            if (_lua.PCall(arguments.Count, 1, handler) != LuaStatus.OK)
            {
                return new HookResult(-1, $"{function} failed: {FirstLine(_lua.ToString(-1, callMetamethod: false))}");
            }
            if (_lua.IsInteger(-1) || _lua.IsNumber(-1))
            {
                var rc = _lua.IsInteger(-1) ? _lua.ToInteger(-1) : (long)_lua.ToNumber(-1);
                return new HookResult(rc, null);
            }
            _log.Information("lua: {Function} returned no number: taken as success", function);
            return new HookResult(0, null);
        }
        finally
        {
            _lua.SetTop(top);
            _context = null;
            Volatile.Write(ref _busy, 0);
        }
    }

    public void Dispose()
    {
        _lua.Dispose();
        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }

    private void Run()
    {
        if (!IsPresent(_path))
        {
            throw new LuaScriptException($"{_path}: no such file");
        }
        if (_lua.LoadFile(_path) != LuaStatus.OK)
        {
            throw new LuaScriptException($"cannot load {FirstLine(_lua.ToString(-1, callMetamethod: false))}");
        }
        if (_lua.PCall(0, 1, 0) != LuaStatus.OK)
        {
            throw new LuaScriptException($"{_path} failed while loading: {FirstLine(_lua.ToString(-1, callMetamethod: false))}");
        }
        if (!_lua.IsNil(-1) && (!_lua.IsNumber(-1) || _lua.ToNumber(-1) != 0))
        {
            throw new LuaScriptException($"{_path} returned {_lua.ToString(-1)} on load (expected slurm.SUCCESS)");
        }
        _lua.Pop(1);
        foreach (var required in new[] { StageIn, StageOut })
        {
            var type = _lua.GetGlobal(required);
            _lua.Pop(1);
            if (type != LuaType.Function)
            {
                throw new LuaScriptException($"{_path} does not define the function {required}");
            }
        }
    }

    private void Push(object? value)
    {
        switch (value)
        {
            case null:
                _lua.PushNil();
                break;
            case string text:
                _lua.PushString(text);
                break;
            case long number:
                _lua.PushInteger(number);
                break;
            case IReadOnlyDictionary<string, string> environment:
                var list = environment.Select(v => $"{v.Key}={v.Value}").ToList();
                _lua.CreateTable(list.Count, 0);
                for (var i = 0; i < list.Count; i++)
                {
                    _lua.PushString(list[i]);
                    _lua.RawSetInteger(-2, i + 1); // 1..n: a Lua sequence (Slurm's scrun starts at 0)
                }
                break;
            default:
                throw new ArgumentException($"cannot pass a {value.GetType().Name} to Lua", nameof(value));
        }
    }

    private static string FirstLine(string text)
    {
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return end < 0 ? text : text[..end];
    }

    private void InstallSlurmTable()
    {
        _lua.NewTable();
        SetConstant("SUCCESS", 0);
        SetConstant("ERROR", -1);
        SetConstant("FAILURE", -1);
        SetConstant("NO_VAL", NoValue.U32);
        SetConstant("NO_VAL64", unchecked((long)NoValue.U64));
        SetConstant("NO_VAL16", NoValue.U16);
        SetConstant("INFINITE", NoValue.Infinite32);
        SetConstant("INFINITE64", unchecked((long)NoValue.Infinite64));
        SetConstant("INFINITE16", NoValue.Infinite16);
        foreach (var (name, number) in SlurmErrors.Named)
        {
            SetConstant(name, number);
        }
        _lua.SetGlobal("slurm");

        _lua.NewTable();
        Register("log", s_log);
        Register("set_bundle_path", s_setBundle);
        Register("set_root_path", s_setRoot);
        Register("command", s_command);
        Register("time_str2mins", s_timeToMinutes);
        Register("to_json", s_toJson);
        Register("from_json", s_fromJson);
        Register("interrupted", s_interrupted);
        Register("log_user", s_logUser);
        if (_lua.LoadString(Prelude, "=scrun prelude") != LuaStatus.OK)
        {
            throw new InvalidOperationException($"the Lua prelude does not compile: {_lua.ToString(-1)}");
        }
        _lua.Insert(-2); // the chunk, then the native table as its argument
        if (_lua.PCall(1, 0, 0) != LuaStatus.OK)
        {
            throw new InvalidOperationException($"the Lua prelude failed: {_lua.ToString(-1)}");
        }

        void SetConstant(string name, long value)
        {
            _lua.PushInteger(value);
            _lua.SetField(-2, name);
        }

        void Register(string name, LuaFunction function)
        {
            _lua.PushCFunction(function);
            _lua.SetField(-2, name);
        }
    }

    private static StagingScript? Host(LuaState lua)
    {
        lua.GetField((int)LuaRegistry.Index, HostKey);
        var pointer = lua.ToUserData(-1);
        lua.Pop(1);
        return pointer == 0 ? null : GCHandle.FromIntPtr(pointer).Target as StagingScript;
    }

    /// <summary>Every C# function's body: any exception becomes <c>false, message</c>, never a Lua error.</summary>
    private static int Guarded(nint state, Func<LuaState, StagingScript, int> body)
    {
        var lua = LuaState.FromIntPtr(state);
        try
        {
            var host = Host(lua) ?? throw new InvalidOperationException("no scrun host in this Lua state");
            return body(lua, host);
        }
        catch (Exception e)
        {
            lua.PushBoolean(false);
            lua.PushString(e.Message);
            return 2;
        }
    }

    private static int Log(nint state) => Guarded(state, static (lua, host) =>
    {
        var level = lua.ToInteger(1) switch
        {
            < 0 => LogEventLevel.Error,
            0 => LogEventLevel.Information,
            1 or 2 => LogEventLevel.Debug,
            _ => LogEventLevel.Verbose,
        };
        host._log.Write(level, "lua: {Message}", lua.ToString(2, callMetamethod: false) ?? "");
        return 0;
    });

    private static int LogUser(nint state) => Guarded(state, static (lua, host) =>
    {
        var text = lua.ToString(1, callMetamethod: false) ?? "";
        if (host.UserMessages is { } user)
        {
            user(text);
        }
        else
        {
            host._log.Information("lua: {Message}", text);
        }
        return 0;
    });

    private static int SetBundlePath(nint state) => Guarded(state, static (lua, host) =>
    {
        var context = host._context ?? throw new InvalidOperationException("set_bundle_path is for the staging hooks");
        var original = context.Bundle;
        context.Bundle = lua.ToString(1, callMetamethod: false) ?? throw new InvalidOperationException("set_bundle_path needs a path");
        lua.PushBoolean(true);
        lua.PushString(original);
        return 2;
    });

    private static int SetRootPath(nint state) => Guarded(state, static (lua, host) =>
    {
        var context = host._context ?? throw new InvalidOperationException("set_root_path is for the staging hooks");
        var original = context.RootPath;
        context.RootPath = lua.ToString(1, callMetamethod: false) ?? throw new InvalidOperationException("set_root_path needs a path");
        lua.PushBoolean(true);
        lua.PushString(original);
        return 2;
    });

    private static int Command(nint state) => Guarded(state, static (lua, host) =>
    {
        var context = host._context ?? new HookContext { Bundle = "" };
        var remote = lua.ToString(1, callMetamethod: false) == "remote";
        var script = lua.ToString(2, callMetamethod: false) ?? throw new InvalidOperationException("a command needs a script");
        var (status, output) = HookCommand.Run(remote, script, context, host._commands);
        lua.PushBoolean(true);
        lua.PushInteger(status);
        lua.PushString(output);
        return 3;
    });

    private static int IsInterrupted(nint state)
    {
        var lua = LuaState.FromIntPtr(state);
        lua.PushBoolean(Host(lua)?._commands.Interrupted ?? false);
        return 1;
    }

    private static int TimeToMinutes(nint state) => Guarded(state, static (lua, _) =>
    {
        lua.PushBoolean(true);
        var text = lua.ToString(1, callMetamethod: false);
        lua.PushInteger(text is not null && SlurmTime.TryParseMinutes(text, out var minutes) ? minutes : -1);
        return 2;
    });

    private static int ToJson(nint state) => Guarded(state, static (lua, _) =>
    {
        var text = LuaJson.Encode(lua, 1, out var error);
        lua.PushBoolean(text is not null);
        lua.PushString(text ?? error);
        return 2;
    });

    private static int FromJson(nint state) => Guarded(state, static (lua, _) =>
    {
        var text = lua.ToString(1, callMetamethod: false) ?? throw new InvalidOperationException("from_json needs a string");
        lua.PushBoolean(true);
        if (!LuaJson.TryPushDecoded(lua, text, out var error))
        {
            lua.Pop(1);
            lua.PushBoolean(false);
            lua.PushString(error);
        }
        return 2;
    });

    /// <summary>
    /// The Lua side of the slurm table: raises what the C# functions report, formats printf-style
    /// log calls, and provides require 'json' / 'dkjson' for scripts written for Slurm 23.02-25.11.
    /// </summary>
    private const string Prelude = """
        local native = ...
        local slurm = slurm
        local function wrap(f, ...)
          local bound = table.pack(...)
          return function(...)
            local args = table.pack(...)
            local all = {}
            for i = 1, bound.n do all[i] = bound[i] end
            for i = 1, args.n do all[bound.n + i] = args[i] end
            local results = table.pack(f(table.unpack(all, 1, bound.n + args.n)))
            if not results[1] then error(results[2], 2) end
            return table.unpack(results, 2, results.n)
          end
        end
        local function text(fmt, ...)
          if select('#', ...) > 0 then return string.format(fmt, ...) end
          return tostring(fmt)
        end
        function slurm.log(level, fmt, ...) native.log(math.tointeger(level) or 0, text(fmt, ...)) end
        function slurm.error(fmt, ...) native.log(-1, text(fmt, ...)) end
        function slurm.log_error(fmt, ...) native.log(-1, text(fmt, ...)) end
        function slurm.log_info(fmt, ...) native.log(0, text(fmt, ...)) end
        function slurm.log_verbose(fmt, ...) native.log(1, text(fmt, ...)) end
        function slurm.log_debug(fmt, ...) native.log(2, text(fmt, ...)) end
        function slurm.log_debug2(fmt, ...) native.log(3, text(fmt, ...)) end
        function slurm.log_debug3(fmt, ...) native.log(4, text(fmt, ...)) end
        function slurm.log_debug4(fmt, ...) native.log(5, text(fmt, ...)) end
        function slurm.log_user(fmt, ...) native.log_user(text(fmt, ...)) end
        slurm.set_bundle_path = wrap(native.set_bundle_path)
        slurm.set_root_path = wrap(native.set_root_path)
        slurm.remote_command = wrap(native.command, "remote")
        slurm.allocator_command = wrap(native.command, "local")
        slurm.time_str2mins = wrap(native.time_str2mins)
        slurm.to_json = wrap(native.to_json)
        slurm.from_json = wrap(native.from_json)
        -- Debian's Lua modules (lua-cjson's Lua side, lua-dkjson, ...), whatever path Lua was built with.
        for _, dir in ipairs({ "/usr/local/share/lua/5.4/", "/usr/share/lua/5.4/" }) do
          for _, pattern in ipairs({ dir .. "?.lua", dir .. "?/init.lua" }) do
            if not string.find(package.path, pattern, 1, true) then
              package.path = package.path .. ";" .. pattern
            end
          end
        end
        -- A hook stuck in Lua itself (a loop) ends once scrun interrupts it.
        local interrupted = native.interrupted
        debug.sethook(function()
          if interrupted() then error("interrupted by scrun", 0) end
        end, "", 1000)
        -- The script runs inside the anchor, whose stdout is the container's and whose end is
        -- the container's: print goes to the log, and os.exit is an error, not the anchor's exit.
        print = function(...)
          local parts = table.pack(...)
          for i = 1, parts.n do parts[i] = tostring(parts[i]) end
          native.log(0, table.concat(parts, "\t", 1, parts.n))
        end
        os.exit = function()
          error("os.exit is not available in scrun.lua: it would end the container's anchor", 2)
        end
        -- Nothing new starts once interrupted, even in a loop too short for the count hook.
        local execute, popen = os.execute, io.popen
        os.execute = function(...)
          if interrupted() then error("interrupted by scrun", 0) end
          return execute(...)
        end
        io.popen = function(...)
          if interrupted() then error("interrupted by scrun", 0) end
          return popen(...)
        end
        local json = { encode = slurm.to_json, decode = slurm.from_json }
        package.preload['json'] = function() return json end
        package.preload['dkjson'] = function() return json end
        """;
}
