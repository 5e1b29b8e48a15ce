using Scrun.Slurm.Config;
using Xunit;

namespace Scrun.Tests.Slurm;

public sealed class HostListTests
{
    [Theory]
    [InlineData("n1", new[] { "n1" })]
    [InlineData("n[1-3,5]", new[] { "n1", "n2", "n3", "n5" })]
    [InlineData("n[8-10]", new[] { "n8", "n9", "n10" })]
    [InlineData("n[01-10]", new[] { "n01", "n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09", "n10" })]
    [InlineData("n[001-002,9]", new[] { "n001", "n002", "n9" })]
    [InlineData("a,b[1-2]", new[] { "a", "b1", "b2" })]
    [InlineData("a b\tc", new[] { "a", "b", "c" })]
    [InlineData("b[1,3],a", new[] { "b1", "b3", "a" })]
    [InlineData("n[1-2]-ib", new[] { "n1-ib", "n2-ib" })]
    [InlineData("10.0.0.[1-3],10.1.0.1", new[] { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.1.0.1" })]
    [InlineData("[6820-6821]", new[] { "6820", "6821" })]
    [InlineData("n[2],n[1]", new[] { "n2", "n1" })]
    [InlineData("", new string[0])]
    [InlineData(" , ", new string[0])]
    public void Expands_as_slurm_does(string expression, string[] expected) =>
        Assert.Equal(expected, HostList.Expand(expression));

    [Fact]
    public void Two_brackets_are_a_product_with_the_last_innermost()
    {
        Assert.Equal(["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"], HostList.Expand("rack[1-2]-n[1-2]"));
    }

    /// <summary>hostlist.c:_push_range_list recurses from the right: of the brackets before the last, the last is outermost.</summary>
    [Fact]
    public void Three_brackets_follow_slurms_recursion_order()
    {
        Assert.Equal(
            ["a1b1c1", "a1b1c2", "a2b1c1", "a2b1c2", "a1b2c1", "a1b2c2", "a2b2c1", "a2b2c2"],
            HostList.Expand("a[1-2]b[1-2]c[1-2]"));
    }

    [Fact]
    public void The_largest_list_allowed_is_expanded_in_full()
    {
        var names = HostList.Expand("n[1-256]x[1-256]");
        Assert.Equal(HostList.MaxNames, names.Count);
        Assert.Equal("n1x1", names[0]);
        Assert.Equal("n256x256", names[^1]);
    }

    [Theory]
    [InlineData("n[1-2", "'[' without ']'")]
    [InlineData("n1-2]", "']' without '['")]
    [InlineData("n]1[", "']' without '['")]
    [InlineData("n[[1-2]]", "nested brackets")]
    [InlineData("n[]", "not a number")]
    [InlineData("n[a-b]", "not a number")]
    [InlineData("n[1-]", "not a number")]
    [InlineData("n[-1]", "not a number")]
    [InlineData("n[1,,2]", "not a number")]
    [InlineData("n[+1]", "not a number")]
    [InlineData("n[1-2-3]", "not a number")]
    [InlineData("n[5-1]", "runs backwards")]
    [InlineData("n[99999999999999999999]", "not a number")]
    [InlineData("n[0-65536]", "more than 65536 hosts")]
    [InlineData("n[0-999999999]", "more than 65536 hosts")]
    [InlineData("a[0-999]b[0-999]", "more than 65536 hosts")]
    [InlineData("a[1-40000],b[1-40000]", "more than 65536 hosts")]
    public void Malformed_or_huge_expressions_are_refused(string expression, string reason)
    {
        var error = Assert.Throws<SlurmConfigException>(() => HostList.Expand(expression));
        Assert.StartsWith($"host list \"{expression}\": ", error.Message);
        Assert.Contains(reason, error.Message);
    }
}
