using System.Reflection;
using Xunit;

namespace Scrun.Tests;

public sealed class TestClassTests
{
    /// <summary>
    /// xunit 2 ends a test class through IDisposable or IAsyncLifetime and never calls
    /// IAsyncDisposable: such a class leaves its directories, mounts and fake servers behind.
    /// </summary>
    [Fact]
    public void Every_test_class_that_cleans_up_asynchronously_does_it_through_IAsyncLifetime()
    {
        var neverDisposed = typeof(TestClassTests).Assembly.GetTypes()
            .Where(t => t.GetMethods().Any(m => m.GetCustomAttributes<FactAttribute>().Any()))
            .Where(t => typeof(IAsyncDisposable).IsAssignableFrom(t) && !typeof(IAsyncLifetime).IsAssignableFrom(t))
            .Select(t => t.FullName);

        Assert.Empty(neverDisposed);
    }
}
