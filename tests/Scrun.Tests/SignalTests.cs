using Scrun.Slurm.Interop;
using Xunit;

namespace Scrun.Tests;

public class SignalTests
{
    [Theory]
    [InlineData("1", 1)]
    [InlineData("64", 64)]
    [InlineData("HUP", 1)]
    [InlineData("SIGHUP", 1)]
    [InlineData("sigterm", 15)]
    [InlineData("Term", 15)]
    [InlineData(" KILL ", 9)]
    [InlineData("SIGCHLD", 17)]
    [InlineData("WINCH", 28)]
    [InlineData("SYS", 31)]
    [InlineData("RTMIN", 34)]
    [InlineData("SIGRTMIN+2", 36)]
    [InlineData("RTMAX-1", 63)]
    [InlineData("RTMAX", 64)]
    public void Valid_signals(string text, int expected)
    {
        Assert.True(Signal.TryParse(text, out var signal, out var error), error);
        Assert.Equal(expected, signal.Number);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("-9")]
    [InlineData("99999999999999999999")]
    [InlineData("9abc")]
    [InlineData("SIG")]
    [InlineData("RTMIN+31")]
    [InlineData("RTMAX-64")]
    [InlineData("TERMINATE")]
    public void Invalid_signals(string text)
    {
        Assert.False(Signal.TryParse(text, out var signal, out var error));
        Assert.Equal(default, signal);
        Assert.NotEmpty(error);
    }

    [Fact]
    public void The_named_signals_have_the_numbers_of_their_names()
    {
        (Signal Signal, string Name)[] named =
        [
            (Signal.Hangup, "HUP"), (Signal.Interrupt, "INT"), (Signal.Kill, "KILL"), (Signal.User1, "USR1"),
            (Signal.User2, "USR2"), (Signal.Alarm, "ALRM"), (Signal.Terminate, "TERM"), (Signal.Child, "CHLD"),
            (Signal.Continue, "CONT"), (Signal.Stop, "STOP"), (Signal.Urgent, "URG"), (Signal.WindowChange, "WINCH"),
        ];
        foreach (var (signal, name) in named)
        {
            Assert.True(Signal.TryParse(name, out var parsed, out _));
            Assert.Equal(signal, parsed);
        }
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(128, null)]
    [InlineData(137, 9)]
    [InlineData(143, 15)]
    [InlineData(192, 64)]
    [InlineData(193, null)]
    public void An_exit_code_above_128_names_the_signal_that_ended_a_process(int exitCode, int? number)
    {
        Assert.Equal(number, Signal.FromExitCode(exitCode)?.Number);
        if (number is { } n)
        {
            Assert.Equal(exitCode, new Signal(n).ExitCode);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public void A_number_that_names_no_signal_is_none(int number)
    {
        Assert.Null(Signal.FromNumber(number));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Signal(number));
    }

    [Theory]
    [InlineData(17, true)]
    [InlineData(18, true)]
    [InlineData(23, true)]
    [InlineData(28, true)]
    [InlineData(1, false)]
    [InlineData(9, false)]
    [InlineData(15, false)]
    [InlineData(19, false)]
    public void Only_chld_cont_urg_and_winch_leave_a_process_that_has_not_started_alone(int number, bool ignored) =>
        Assert.Equal(ignored, new Signal(number).IsIgnoredByDefault);
}
