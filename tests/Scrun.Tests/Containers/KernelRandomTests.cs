using Scrun.Containers.Interop;
using Xunit;

namespace Scrun.Tests.Containers;

public class KernelRandomTests
{
    [Fact]
    public void Secrets_are_hex_of_the_length_asked_and_never_repeat()
    {
        var secrets = Enumerable.Range(0, 64).Select(_ => KernelRandom.Hex(16)).ToList();
        Assert.All(secrets, s => Assert.Matches("^[0-9a-f]{32}$", s));
        Assert.Equal(secrets.Count, secrets.Distinct().Count());
    }
}
