using Scrun.Slurm.Config;
using Scrun.Slurm.Wire;

namespace Scrun.Containers.Anchor;

/// <summary>
/// Which launcher runs the container's step: Slurm's step protocol spoken by scrun itself
/// wherever it is known to work, srun where it is not (or where the site or the user asks for it).
/// </summary>
public sealed record StepLauncherChoice(bool Native, string Why)
{
    /// <summary>The choice for a cluster (slurm.conf and oci.conf) whose controller speaks <paramref name="version"/>.</summary>
    /// <param name="setting"><see cref="JobOptions.StepLauncher"/>: <c>native</c>, <c>srun</c>, or null for the automatic choice.</param>
    /// <param name="slurm">The cluster's slurm.conf.</param>
    /// <param name="oci">The oci.conf beside it.</param>
    /// <param name="version">The controller's wire format, once known.</param>
    public static StepLauncherChoice For(string? setting, SlurmConfig slurm, OciConfig oci, ProtocolVersion? version) => setting switch
    {
        "native" => new(true, $"{JobOptions.StepLauncherVariable}=native"),
        "srun" => new(false, $"{JobOptions.StepLauncherVariable}=srun"),
        _ => Automatic(slurm, oci, version),
    };

    private static StepLauncherChoice Automatic(SlurmConfig slurm, OciConfig oci, ProtocolVersion? version)
    {
        if (slurm.SwitchType is { } switchType && !switchType.Contains("none", StringComparison.OrdinalIgnoreCase))
        {
            return new(false, $"SwitchType={switchType} adds its own data to the job credential");
        }
        if (oci.SrunArgs.Count > 0)
        {
            return new(false, $"oci.conf's SrunArgs ({string.Join(' ', oci.SrunArgs)}) are srun's options");
        }
        if (version is not { IsSupported: true } known)
        {
            return new(false, "the controller's release is not known");
        }
        return new(true, $"Slurm {known.Release}, no switch plugin");
    }
}
