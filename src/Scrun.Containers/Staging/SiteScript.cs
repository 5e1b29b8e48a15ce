using Scrun.Slurm.Config;

namespace Scrun.Containers.Staging;

/// <summary>The site's scrun.lua as <c>scrun check</c> sees it: where it would be, and whether it loads as the anchor loads it.</summary>
public static class SiteScript
{
    public const string Name = LuaStaging.ScriptName;

    /// <summary>Where Slurm looks for the script: beside slurm.conf.</summary>
    public static string PathBeside(SlurmConfig config) => LuaStaging.PathBeside(config);

    /// <summary>Whether there is a script beside slurm.conf; it loads, or <see cref="ContainerException"/> says why not.</summary>
    public static bool LoadsBeside(SlurmConfig config)
    {
        using var staging = LuaStaging.LoadIfPresent(PathBeside(config), Serilog.Core.Logger.None, StagingLimits.Default, new OciConfig(), processToClean: null);
        return staging is not null;
    }
}
