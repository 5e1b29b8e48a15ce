using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Scrun.Cli;

/// <summary>
/// Parses a signal the way runc's callers write it: a number (<c>15</c>), a name (<c>TERM</c>,
/// <c>term</c>) or a prefixed name (<c>SIGTERM</c>), and the real-time forms <c>RTMIN+N</c> /
/// <c>RTMAX-N</c>. Linux x86-64 numbering.
/// </summary>
public static class SignalParser
{
    public const int SigTerm = 15;
    public const int MaxSignal = 64;
    private const int RealTimeMin = 34;

    private static readonly Dictionary<string, int> s_byName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["HUP"] = 1,
        ["INT"] = 2,
        ["QUIT"] = 3,
        ["ILL"] = 4,
        ["TRAP"] = 5,
        ["ABRT"] = 6,
        ["IOT"] = 6,
        ["BUS"] = 7,
        ["FPE"] = 8,
        ["KILL"] = 9,
        ["USR1"] = 10,
        ["SEGV"] = 11,
        ["USR2"] = 12,
        ["PIPE"] = 13,
        ["ALRM"] = 14,
        ["TERM"] = 15,
        ["STKFLT"] = 16,
        ["CHLD"] = 17,
        ["CLD"] = 17,
        ["CONT"] = 18,
        ["STOP"] = 19,
        ["TSTP"] = 20,
        ["TTIN"] = 21,
        ["TTOU"] = 22,
        ["URG"] = 23,
        ["XCPU"] = 24,
        ["XFSZ"] = 25,
        ["VTALRM"] = 26,
        ["PROF"] = 27,
        ["WINCH"] = 28,
        ["IO"] = 29,
        ["POLL"] = 29,
        ["PWR"] = 30,
        ["SYS"] = 31,
        ["RTMIN"] = RealTimeMin,
        ["RTMAX"] = MaxSignal,
    };

    public static bool TryParse(string? text, out int signal, [NotNullWhen(false)] out string? error)
    {
        signal = 0;
        error = null;
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            error = "signal cannot be empty";
            return false;
        }
        if (char.IsAsciiDigit(trimmed[0]))
        {
            if (!int.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out signal))
            {
                signal = 0;
            }
        }
        else
        {
            signal = FromName(trimmed.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? trimmed[3..] : trimmed);
        }
        if (signal is < 1 or > MaxSignal)
        {
            error = $"invalid signal \"{trimmed}\" (expected a number from 1 to {MaxSignal} or a name such as TERM or SIGKILL)";
            signal = 0;
            return false;
        }
        return true;
    }

    private static int FromName(string name)
    {
        if (s_byName.TryGetValue(name, out var number))
        {
            return number;
        }
        var plus = name.IndexOf('+');
        var minus = name.IndexOf('-');
        if (plus > 0 && s_byName.TryGetValue(name[..plus], out var baseNumber) && baseNumber == RealTimeMin
            && int.TryParse(name.AsSpan(plus + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var above))
        {
            return RealTimeMin + above;
        }
        if (minus > 0 && s_byName.TryGetValue(name[..minus], out baseNumber) && baseNumber == MaxSignal
            && int.TryParse(name.AsSpan(minus + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var below))
        {
            return MaxSignal - below;
        }
        return 0;
    }
}
