using Scrun.Slurm.Config;

namespace Scrun.Slurm.Steps;

/// <summary>One resource limit srun may propagate: Slurm's name for it and Linux's <c>RLIMIT_*</c> number.</summary>
public sealed record ResourceLimit(string Name, int Resource);

/// <summary>
/// The limits srun passes to the tasks as <c>SLURM_RLIMIT_*</c> (slurmstepd applies and removes
/// them): Slurm's table (<c>slurm_rlimits_info.c</c>, the same from 22.05 to 26.05), in its order,
/// and slurm.conf's choice among them.
/// </summary>
public static class ResourceLimits
{
    public static IReadOnlyList<ResourceLimit> All { get; } =
    [
        new("CPU", 0),
        new("FSIZE", 1),
        new("DATA", 2),
        new("STACK", 3),
        new("CORE", 4),
        new("RSS", 5),
        new("NPROC", 6),
        new("NOFILE", 7),
        new("MEMLOCK", 8),
        new("AS", 9),
    ];

    /// <summary>
    /// The limits srun propagates under <paramref name="config"/>: all but those
    /// <c>PropagateResourceLimitsExcept</c> names when it is set, else those
    /// <c>PropagateResourceLimits</c> names (<c>ALL</c>, <c>NONE</c>, or a list). Names are
    /// case-sensitive and may carry <c>RLIMIT_</c>, as in <c>parse_rlimits</c>.
    /// </summary>
    /// <exception cref="SlurmConfigException">A name Slurm does not know: srun refuses such a slurm.conf too.</exception>
    public static IReadOnlySet<string> Propagated(SlurmConfig config) =>
        config.PropagateResourceLimitsExcept is { } except
            ? All.Select(l => l.Name).Except(Named(except, "PropagateResourceLimitsExcept")).ToHashSet(StringComparer.Ordinal)
            : Named(config.PropagateResourceLimits, "PropagateResourceLimits");

    private static HashSet<string> Named(string list, string key)
    {
        switch (list)
        {
            case "ALL":
                return All.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
            case "NONE":
                return new HashSet<string>(StringComparer.Ordinal);
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var token in list.Split([',', ' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries))
        {
            var name = token.StartsWith("RLIMIT_", StringComparison.Ordinal) ? token["RLIMIT_".Length..] : token;
            if (!All.Any(l => l.Name == name))
            {
                throw new SlurmConfigException($"slurm.conf's {key}={list} names {token}, which is not a resource limit Slurm propagates");
            }
            names.Add(name);
        }
        return names;
    }
}
