using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Scrun.Slurm.Interop;

/// <summary>
/// A POSIX signal (Linux x86-64 numbering), as a container, a step or a job is sent it. Its
/// <see cref="ExitCode"/> is what a process it ended exits with to a shell (128 + N).
/// </summary>
public readonly record struct Signal
{
    /// <summary>The highest real-time signal, and the highest signal there is.</summary>
    public const int Highest = 64;

    private const int LowestRealTime = 34;

    public static readonly Signal Hangup = new(1);
    public static readonly Signal Interrupt = new(2);
    public static readonly Signal Quit = new(3);
    public static readonly Signal Kill = new(9);
    public static readonly Signal User1 = new(10);
    public static readonly Signal User2 = new(12);
    public static readonly Signal Alarm = new(14);
    public static readonly Signal Terminate = new(15);
    public static readonly Signal Child = new(17);
    public static readonly Signal Continue = new(18);
    public static readonly Signal Stop = new(19);
    public static readonly Signal Urgent = new(23);
    public static readonly Signal WindowChange = new(28);

    /// <exception cref="ArgumentOutOfRangeException">Not a signal (1 to <see cref="Highest"/>).</exception>
    public Signal(int number)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(number, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(number, Highest);
        Number = number;
    }

    public int Number { get; }

    /// <summary>The exit code of a process this signal ended: 128 + N.</summary>
    public int ExitCode => 128 + Number;

    /// <summary>
    /// A signal whose default action is to be ignored (CHLD, CONT, URG, WINCH): sent to a process
    /// that has not started, it does not end it.
    /// </summary>
    public bool IsIgnoredByDefault => this == Child || this == Continue || this == Urgent || this == WindowChange;

    /// <summary>The signal numbered <paramref name="number"/>, or null when no signal has that number.</summary>
    public static Signal? FromNumber(int number) => number is >= 1 and <= Highest ? new Signal(number) : null;

    /// <summary>The signal an exit code says ended a process (129 to 192), or null.</summary>
    public static Signal? FromExitCode(int exitCode) => exitCode > 128 ? FromNumber(exitCode - 128) : null;

    /// <summary>
    /// A signal the way runc's callers write it: a number (<c>15</c>), a name (<c>TERM</c>,
    /// <c>term</c>) or a prefixed name (<c>SIGTERM</c>), and the real-time forms <c>RTMIN+N</c> /
    /// <c>RTMAX-N</c>.
    /// </summary>
    public static bool TryParse(string? text, out Signal signal, [NotNullWhen(false)] out string? error)
    {
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            (signal, error) = (default, "signal cannot be empty");
            return false;
        }
        var number = char.IsAsciiDigit(trimmed[0])
            ? (int.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0)
            : NumberNamed(trimmed.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? trimmed[3..] : trimmed);
        if (FromNumber(number) is not { } found)
        {
            (signal, error) = (default, $"invalid signal \"{trimmed}\" (expected a number from 1 to {Highest} or a name such as TERM or SIGKILL)");
            return false;
        }
        (signal, error) = (found, null);
        return true;
    }

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
        ["RTMIN"] = LowestRealTime,
        ["RTMAX"] = Highest,
    };

    /// <summary>The number of a signal's name without <c>SIG</c>; 0 for no signal's.</summary>
    private static int NumberNamed(string name)
    {
        if (s_byName.TryGetValue(name, out var number))
        {
            return number;
        }
        var plus = name.IndexOf('+');
        if (plus > 0 && string.Equals(name[..plus], "RTMIN", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(name.AsSpan(plus + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var above))
        {
            return LowestRealTime + above;
        }
        var minus = name.IndexOf('-');
        if (minus > 0 && string.Equals(name[..minus], "RTMAX", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(name.AsSpan(minus + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var below))
        {
            return Highest - below;
        }
        return 0;
    }

    public override string ToString() => Number.ToString(CultureInfo.InvariantCulture);
}
