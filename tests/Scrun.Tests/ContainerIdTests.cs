using Scrun.Containers;
using Xunit;

namespace Scrun.Tests;

public class ContainerIdTests
{
    [Theory]
    [InlineData("abc")]
    [InlineData("0998f9a2bbb54d731635eb96bbee0db7e8b1b8160427cf0cee51d23ce1271361")]
    [InlineData("n1.root.25.0.0")]
    [InlineData("my_container-1")]
    [InlineData("-leading-dash")]
    [InlineData(".hidden")]
    [InlineData("a+b")]
    public void Runc_style_ids_are_accepted(string text)
    {
        Assert.True(ContainerId.TryParse(text, out var id, out var error), error);
        Assert.Equal(text, id.Value);
        Assert.Equal(text, id.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("../etc")]
    [InlineData("x/../y")]
    [InlineData("a,b")]
    [InlineData("tab\there")]
    public void Unsafe_ids_are_refused_with_a_reason(string? text)
    {
        Assert.False(ContainerId.TryParse(text, out _, out var error));
        Assert.Contains("container id", error);
    }

    [Fact]
    public void A_hostile_id_in_an_error_message_stays_short_and_printable()
    {
        Assert.False(ContainerId.TryParse("\u001b[31m" + new string('x', 500), out _, out var error));
        Assert.DoesNotContain('\u001b', error);
        Assert.True(error.Length < 200);
    }

    [Fact]
    public void Parse_throws_on_a_bad_id()
    {
        Assert.Throws<ArgumentException>(() => ContainerId.Parse("a/b"));
    }
}
