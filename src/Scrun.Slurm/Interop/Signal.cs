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

    public static readonly Signal Hangup = new(1);
    public static readonly Signal Interrupt = new(2);
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
    public bool IsIgnoredByDefault => Number is 17 or 18 or 23 or 28;

    /// <summary>The signal numbered <paramref name="number"/>, or null when no signal has that number.</summary>
    public static Signal? FromNumber(int number) => number is >= 1 and <= Highest ? new Signal(number) : null;

    /// <summary>The signal an exit code says ended a process (129 to 192), or null.</summary>
    public static Signal? FromExitCode(int exitCode) => exitCode > 128 ? FromNumber(exitCode - 128) : null;

    public override string ToString() => Number.ToString(CultureInfo.InvariantCulture);
}
