using Scrun.Slurm.Interop;

namespace Scrun.Slurm.Steps;

/// <summary>
/// What srun passes on of its own process to the tasks: its soft resource limits (by Slurm's
/// name; <see cref="ulong.MaxValue"/> is unlimited), its file mode mask and its nice value (null
/// when the kernel would not say). srun launched by the anchor inherits the anchor's, so the
/// anchor's own are srun's.
/// </summary>
public sealed record LauncherProcess(IReadOnlyDictionary<string, ulong> SoftLimits, uint Umask, int? Priority)
{
    public static LauncherProcess Current()
    {
        var limits = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var limit in ResourceLimits.All)
        {
            if (ProcessSettings.SoftLimit(limit.Resource) is { } soft)
            {
                limits[limit.Name] = soft;
            }
        }
        return new LauncherProcess(limits, ProcessSettings.Umask(), ProcessSettings.Priority());
    }
}
