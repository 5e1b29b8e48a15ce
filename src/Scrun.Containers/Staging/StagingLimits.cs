using System.Globalization;

namespace Scrun.Containers.Staging;

/// <summary>
/// How long a site's staging may take (Slurm's scrun waits forever): each hook, and each
/// command a hook runs. Seconds in <c>SCRUN_STAGE_IN_TIMEOUT</c>, <c>SCRUN_STAGE_OUT_TIMEOUT</c>
/// and <c>SCRUN_LUA_COMMAND_TIMEOUT</c>; <c>0</c>, <c>infinite</c> or <c>unlimited</c> for none.
/// </summary>
internal sealed record StagingLimits(TimeSpan StageIn, TimeSpan StageOut, TimeSpan Command)
{
    public const string StageInVariable = "SCRUN_STAGE_IN_TIMEOUT";
    public const string StageOutVariable = "SCRUN_STAGE_OUT_TIMEOUT";
    public const string CommandVariable = "SCRUN_LUA_COMMAND_TIMEOUT";

    public static StagingLimits Default { get; } = new(TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(30), Timeout.InfiniteTimeSpan);

    /// <summary>The limits set among <paramref name="variables"/>; a bad value is a <see cref="ContainerException"/> naming it.</summary>
    public static StagingLimits From(IReadOnlyDictionary<string, string> variables) => new(
        Parse(variables, StageInVariable, Default.StageIn),
        Parse(variables, StageOutVariable, Default.StageOut),
        Parse(variables, CommandVariable, Default.Command));

    private static TimeSpan Parse(IReadOnlyDictionary<string, string> variables, string name, TimeSpan fallback)
    {
        if (!variables.TryGetValue(name, out var text) || text.Length == 0)
        {
            return fallback;
        }
        if (text is "infinite" or "unlimited" or "0")
        {
            return Timeout.InfiniteTimeSpan;
        }
        return double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds < int.MaxValue / 1000
            ? TimeSpan.FromSeconds(seconds)
            : throw new ContainerException($"{name}={text} is not a number of seconds");
    }
}
