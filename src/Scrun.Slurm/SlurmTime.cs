using System.Globalization;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm;

/// <summary>Slurm's time-limit strings (salloc -t, SCRUN_TIME_LIMIT, Lua's slurm.time_str2mins).</summary>
public static class SlurmTime
{
    /// <summary>
    /// <c>M</c>, <c>M:S</c>, <c>H:M:S</c>, <c>D-H</c>, <c>D-H:M</c>, <c>D-H:M:S</c>, or
    /// <c>infinite</c>/<c>unlimited</c>/<c>-1</c> (<see cref="NoValue.Infinite32"/>), in minutes; seconds round up.
    /// </summary>
    public static bool TryParseMinutes(string value, out uint minutes)
    {
        minutes = 0;
        var text = value.Trim();
        if (text.Equals("infinite", StringComparison.OrdinalIgnoreCase) || text.Equals("unlimited", StringComparison.OrdinalIgnoreCase) || text == "-1")
        {
            minutes = NoValue.Infinite32;
            return true;
        }
        long days = 0;
        var dash = text.IndexOf('-');
        if (dash > 0)
        {
            days = Number(text[..dash]);
            text = text[(dash + 1)..];
        }
        var parts = text.Split(':').Select(Number).ToArray();
        long seconds = (dash > 0, parts.Length) switch
        {
            (false, 1) => parts[0] * 60,
            (false, 2) => (parts[0] * 60) + parts[1],
            (_, 3) => (parts[0] * 3600) + (parts[1] * 60) + parts[2],
            (true, 1) => parts[0] * 3600,
            (true, 2) => (parts[0] * 3600) + (parts[1] * 60),
            _ => -1,
        };
        if (seconds < 0 || days < 0 || parts.Any(p => p < 0))
        {
            return false;
        }
        var total = ((days * 24 * 3600) + seconds + 59) / 60;
        if (total >= NoValue.U32)
        {
            return false;
        }
        minutes = (uint)total;
        return true;

        static long Number(string part) =>
            part.Length is > 0 and <= 9 && long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1;
    }
}
