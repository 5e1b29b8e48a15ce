using Scrun.Containers.Interop;
using Scrun.Slurm.Config;
using Scrun.Slurm.Wire;

namespace Scrun.Containers;

/// <summary>
/// Which launcher runs the container's step: Slurm's step protocol spoken by scrun itself
/// wherever it is known to work, srun where it is not (or where the site or the user asks for it).
/// </summary>
public sealed record StepLauncherChoice(bool Native, string Why)
{
    /// <summary>The choice for a cluster (slurm.conf and oci.conf) whose controller speaks <paramref name="version"/>.</summary>
    public static StepLauncherChoice For(StepLauncherSetting setting, SlurmConfig slurm, OciConfig oci, ProtocolVersion? version) =>
        StepLauncherPolicy.For(setting, slurm, oci).Choose(version);

    /// <summary>
    /// srun puts the uid it runs as in its requests; in a rootless engine's namespace that is 0,
    /// which slurmctld refuses (22.05) or takes for root's job.
    /// </summary>
    /// <exception cref="ContainerException">srun would launch the step from inside a user namespace.</exception>
    public StepLauncherChoice EnsureUsableHere()
    {
        if (!Native && UserNamespace.UidDiffersOutside())
        {
            throw new ContainerException($"the step would be launched by srun ({Why}), which cannot work inside a rootless engine's user namespace (it would ask for uid 0): use the native launcher ({JobOptions.StepLauncherVariable}=native)");
        }
        return this;
    }
}

/// <summary>
/// The launcher as far as it is decided before the controller has answered: the user's or the
/// site's setting, or what slurm.conf and oci.conf rule out. Only the automatic choice still
/// depends on the controller's release (<see cref="Choose"/>).
/// </summary>
public sealed record StepLauncherPolicy
{
    /// <summary><c>SCRUN_STEP_LAUNCHER</c>.</summary>
    public StepLauncherSetting Setting { get; init; }

    /// <summary>Why the automatic choice is srun whatever the release, or null.</summary>
    public string? SrunBecause { get; init; }

    /// <summary>The choice when it is known without the controller, else null.</summary>
    public StepLauncherChoice? Known => Setting switch
    {
        StepLauncherSetting.Native => new(true, $"{JobOptions.StepLauncherVariable}=native"),
        StepLauncherSetting.Srun => new(false, $"{JobOptions.StepLauncherVariable}=srun"),
        _ => SrunBecause is { } why ? new(false, why) : null,
    };

    /// <summary>srun stands in when the native launcher finds it cannot launch a step (automatic, outside a user namespace).</summary>
    public bool FallsBackToSrun => Setting == StepLauncherSetting.Automatic && !UserNamespace.UidDiffersOutside();

    public static StepLauncherPolicy For(StepLauncherSetting setting, SlurmConfig slurm, OciConfig oci) => new()
    {
        Setting = setting,
        SrunBecause = slurm.SwitchType is { } switchType && !switchType.Contains("none", StringComparison.OrdinalIgnoreCase)
            ? $"SwitchType={switchType} adds its own data to the job credential"
            : oci.SrunArgs.Count > 0 ? $"oci.conf's SrunArgs ({string.Join(' ', oci.SrunArgs)}) are srun's options"
            : null,
    };

    /// <summary>The launcher for a controller that speaks <paramref name="version"/> (null: not known).</summary>
    public StepLauncherChoice Choose(ProtocolVersion? version) => Known
        ?? (version is { IsSupported: true } known
            ? new(true, $"Slurm {known.Release}, no switch plugin")
            : new(false, "the controller's release is not known"));
}
