using Scrun.Containers.Oci;
using Scrun.Slurm.Config;

namespace Scrun.Containers.Staging;

/// <summary>
/// What the compute node will run: a bundle directory visible to it, and its root filesystem.
/// <paramref name="Owned"/>: scrun made the directory and removes it when the container is deleted
/// (a bundle named by a site's scrun.lua may be the caller's own, and is never removed).
/// </summary>
internal sealed record StagedBundle(string Bundle, string RootPath, bool Owned = false)
{
    /// <summary><see cref="Bundle"/> as the compute node names it: another path when scrun runs in a rootless engine's mount namespace.</summary>
    public string NodeBundle { get; init; } = Bundle;
}

/// <summary>What staging knows about the container and its job (Slurm's hook arguments).</summary>
internal sealed record StagingContext(
    ContainerId Id,
    BundleConfig Config,
    ContainerPaths Paths,
    uint JobId,
    uint UserId,
    uint GroupId,
    IReadOnlyDictionary<string, string> JobEnvironment);

/// <summary>
/// Moves a bundle to where the compute node can run it and cleans up afterwards. The built-in
/// staging works where the login node's files are visible on the node; a site's
/// <c>scrun.lua</c> (<see cref="LuaStaging"/>) replaces it.
/// </summary>
internal interface IStaging
{
    /// <summary>
    /// Where the bundle will be, as far as is known before stage-in (the job's working
    /// directory): the staging's own place, or the submitted bundle when a script decides later.
    /// </summary>
    string PlannedBundle(ContainerPaths paths, BundleConfig config);

    /// <summary>Stages the bundle; a <see cref="ContainerException"/> says why it could not be.</summary>
    Task<StagedBundle> StageInAsync(StagingContext context, CancellationToken cancellation);

    /// <summary>Cleans up after the container, also after a stage-in that failed or was interrupted; failures are logged, not thrown.</summary>
    Task StageOutAsync(StagingContext context, CancellationToken cancellation);

    /// <summary>
    /// The site's scrun.lua beside slurm.conf when there is one (loaded now: a script that does
    /// not load fails before any job exists), else the built-in staging, its shared staging
    /// directory checked now too.
    /// </summary>
    static IStaging Choose(SlurmConfig slurmConfig, JobOptions options, string? stagingDirectory, Serilog.ILogger log, Action<string> userMessages)
    {
        var script = LuaStaging.LoadBeside(slurmConfig, log, StagingLimits.From(options.Variables), processToClean: Environment.ProcessId, userMessages);
        if (script is not null)
        {
            log.Debug("staging with {Script}", script.ScriptPath);
            return script;
        }
        if (stagingDirectory is { Length: > 0 })
        {
            StagingDirectory.Check(ContainerPaths.Resolve(stagingDirectory), BuiltInStaging.Variable); // before the job: others may not rewrite it
        }
        return new BuiltInStaging(stagingDirectory, log);
    }
}
