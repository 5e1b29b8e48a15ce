using Scrun.Cli;
using Xunit;

namespace Scrun.Tests;

public class SignalParserTests
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
        Assert.True(SignalParser.TryParse(text, out var signal, out var error), error);
        Assert.Equal(expected, signal);
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
    [InlineData("TERMINATE")]
    public void Invalid_signals(string text)
    {
        Assert.False(SignalParser.TryParse(text, out var signal, out var error));
        Assert.Equal(0, signal);
        Assert.NotEmpty(error);
    }
}
