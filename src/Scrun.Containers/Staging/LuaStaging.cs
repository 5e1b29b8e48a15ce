using System.Diagnostics;
using Scrun.Containers.Oci;
using Scrun.Lua;
using Scrun.Slurm.Config;
using Serilog;
using LuaContext = Scrun.Lua.HookContext;

namespace Scrun.Containers.Staging;

/// <summary>
/// A site's <c>scrun.lua</c> (beside slurm.conf) staging the bundle, as Slurm's scrun runs it,
/// but within limits: a hook past its time, or interrupted by <c>delete --force</c>, has its
/// commands killed and the container fails with a line saying so. Each hook runs on a thread
/// of its own, so a hook stuck in Lua does not stop the anchor; a state left busy that way is
/// replaced by a freshly loaded one for stage-out.
/// </summary>
internal sealed class LuaStaging : IStaging, IDisposable
{
    public const string ScriptName = "scrun.lua";
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(2);

    private readonly string _path;
    private readonly ILogger _log;
    private readonly StagingLimits _limits;
    private readonly OciConfig _oci;
    private readonly int? _processToClean;
    private readonly Action<string>? _userMessages;
    private readonly List<StagingScript> _scripts = [];
    private StagingScript _script;
    private LuaContext? _hookContext;

    private LuaStaging(string path, ILogger log, StagingLimits limits, OciConfig oci, int? processToClean, Action<string>? userMessages)
    {
        _userMessages = userMessages;
        _path = path;
        _log = log;
        _limits = limits;
        _oci = oci;
        _processToClean = processToClean;
        _script = Load();
    }

    /// <summary>
    /// The script beside <paramref name="slurmConfig"/>, loaded, or null if there is none.
    /// <paramref name="processToClean"/>: whose descendants an interrupted hook leaves to be
    /// killed (the anchor itself, which has no other children while staging).
    /// <paramref name="userMessages"/>: where <c>slurm.log_user</c> lines go.
    /// </summary>
    public static LuaStaging? LoadBeside(SlurmConfig slurmConfig, ILogger log, StagingLimits limits, int? processToClean, Action<string>? userMessages = null) =>
        LoadIfPresent(PathBeside(slurmConfig), log, limits, OciConfig.LoadBeside(slurmConfig), processToClean, userMessages);

    /// <summary>Where Slurm looks for the script: beside slurm.conf.</summary>
    public static string PathBeside(SlurmConfig slurmConfig) => Path.Combine(slurmConfig.Directory, ScriptName);

    public static LuaStaging? LoadIfPresent(string path, ILogger log, StagingLimits limits, OciConfig oci, int? processToClean, Action<string>? userMessages = null) =>
        StagingScript.IsPresent(path) ? new LuaStaging(path, log, limits, oci, processToClean, userMessages) : null;

    public string ScriptPath => _path;

    /// <summary>The script decides in stage-in: until then, the job works in the submitted bundle.</summary>
    public string PlannedBundle(ContainerPaths paths, BundleConfig config) => config.Bundle;

    public async Task<StagedBundle> StageInAsync(StagingContext context, CancellationToken cancellation)
    {
        var hook = new LuaContext
        {
            Bundle = context.Config.Bundle,
            RootPath = context.Config.RootPath,
            JobEnvironment = context.JobEnvironment,
            JobId = context.JobId,
            Srun = _oci.SrunPath ?? "srun",
            SrunArgs = _oci.SrunArgs,
            CommandTimeout = _limits.Command,
        };
        _hookContext = hook;
        var result = await RunAsync(StagingScript.StageIn, _limits.StageIn, script => script.RunStageIn(
            hook, context.Id.Value, SpoolDirectory(context), ConfigFile(context), context.UserId, context.GroupId), cancellation);
        if (!result.Succeeded)
        {
            throw new ContainerException(result.Error ?? $"{_path}: {StagingScript.StageIn} returned {result.ReturnCode}");
        }
        _log.Debug("lua: staged {Id} at {Bundle} (root {Root})", context.Id, hook.Bundle, hook.RootPath);
        return new StagedBundle(hook.Bundle, hook.RootPath ?? context.Config.RootPath);
    }

    public async Task StageOutAsync(StagingContext context, CancellationToken cancellation)
    {
        if (_hookContext is not { } staged)
        {
            return; // as Slurm: stage-out only follows a stage-in that was attempted
        }
        // A stage-in interrupted on its thread may still be writing these: take them as they are now.
        var hook = staged.Copy();
        try
        {
            var result = await RunAsync(StagingScript.StageOut, _limits.StageOut, script => script.RunStageOut(
                hook, context.Id.Value, context.Config.Bundle, context.Config.RootPath, SpoolDirectory(context), ConfigFile(context),
                context.UserId, context.GroupId), cancellation);
            if (!result.Succeeded)
            {
                _log.Warning("stage-out of container {Id} failed: {Reason}", context.Id,
                    result.Error ?? $"{_path}: {StagingScript.StageOut} returned {result.ReturnCode}");
            }
        }
        catch (Exception e) when (e is ContainerException or OperationCanceledException)
        {
            _log.Warning("stage-out of container {Id} failed: {Reason}", context.Id, e.Message);
        }
    }

    public void Dispose()
    {
        foreach (var script in _scripts.Where(s => !s.Busy))
        {
            script.Dispose(); // a busy one is still running on its thread: it goes with the process
        }
        _scripts.Clear();
    }

    private async Task<HookResult> RunAsync(string hook, TimeSpan limit, Func<StagingScript, HookResult> call, CancellationToken cancellation)
    {
        if (_script.Interrupted)
        {
            _script = Load(); // the last hook's state may still be running, and refuses commands
        }
        var script = _script;
        var watch = Stopwatch.StartNew();
        var run = Task.Factory.StartNew(() => call(script), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            var result = await run.WaitAsync(limit, cancellation);
            _log.Debug("lua: {Hook} {Result} after {Elapsed} ms", hook, result, watch.ElapsedMilliseconds);
            return result;
        }
        catch (TimeoutException)
        {
            await InterruptAsync(script, run);
            throw new ContainerException($"{_path}: {hook} did not finish within {TimeLimit.Describe(limit)} and was stopped");
        }
        catch (OperationCanceledException)
        {
            await InterruptAsync(script, run);
            throw;
        }
    }

    private async Task InterruptAsync(StagingScript script, Task run)
    {
        script.Interrupt(_processToClean);
        try
        {
            await run.WaitAsync(s_settle); // most hooks end once their command is killed
        }
        catch (TimeoutException)
        {
            _log.Warning("{Script}: the interrupted hook goes on in Lua; its state is abandoned", _path);
            script.Interrupt(_processToClean); // whatever it started meanwhile
        }
    }

    private StagingScript Load()
    {
        try
        {
            var script = StagingScript.Load(_path, _log);
            script.UserMessages = _userMessages;
            _scripts.Add(script);
            return script;
        }
        catch (LuaScriptException e)
        {
            throw new ContainerException(e.Message);
        }
    }

    private static string SpoolDirectory(StagingContext context) => context.Paths.Directory + "/";

    private static string ConfigFile(StagingContext context) => Path.Combine(context.Config.Bundle, "config.json");
}
