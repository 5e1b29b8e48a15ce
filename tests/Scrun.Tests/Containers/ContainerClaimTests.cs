using Scrun.Containers;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>One container id, one owner: the claim is exclusive, outlives its taker only in a process it was handed to, and never adopts a removed directory.</summary>
public sealed class ContainerClaimTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("scrun-claim-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private ContainerPaths Paths(string id = "c1") => new(_root, ContainerId.Parse(id));

    [Fact]
    public void A_claim_is_exclusive_until_released()
    {
        var paths = Paths();
        using (var first = ContainerClaim.TryTake(paths))
        {
            Assert.NotNull(first);
            Assert.True(ContainerClaim.IsHeld(paths));
            Assert.Null(ContainerClaim.TryTake(paths));
            Assert.Null(ContainerClaim.TakeExisting(paths, TimeSpan.Zero));
        }
        Assert.False(ContainerClaim.IsHeld(paths));
        using var second = ContainerClaim.TakeExisting(paths, TimeSpan.Zero);
        Assert.NotNull(second);
    }

    /// <summary>The guard's wait: it gets the claim the moment its holder lets go, however late it started waiting.</summary>
    [Fact]
    public async Task Waiting_for_a_claim_gets_it_once_its_holder_lets_go()
    {
        var paths = Paths();
        var holder = ContainerClaim.TryTake(paths)!;
        var waiting = Task.Run(() => ContainerClaim.WaitFor(paths));
        holder.Dispose();

        using var claim = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(claim);
        Assert.True(ContainerClaim.IsHeld(paths));
    }

    [Fact]
    public async Task Waiting_for_a_claim_whose_holder_removed_the_directory_gets_nothing()
    {
        var paths = Paths();
        var holder = ContainerClaim.TryTake(paths)!;
        var waiting = Task.Run(() => ContainerClaim.WaitFor(paths));
        Directory.Delete(paths.Directory);
        holder.Dispose();

        Assert.Null(await waiting.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Many_takers_at_once_yield_one_owner()
    {
        var paths = Paths("raced");
        using var start = new Barrier(8);
        var claims = new ContainerClaim?[8];
        var threads = Enumerable.Range(0, 8).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            claims[i] = ContainerClaim.TryTake(paths);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Single(claims, c => c is not null);
        foreach (var claim in claims)
        {
            claim?.Dispose();
        }
    }

    [Fact]
    public void A_directory_its_last_owner_removed_is_made_again_and_claimed()
    {
        var paths = Paths();
        var first = ContainerClaim.TryTake(paths)!;
        Directory.Delete(paths.Directory);
        first.Dispose();

        using var second = ContainerClaim.TryTake(paths);

        Assert.NotNull(second);
        Assert.True(Directory.Exists(paths.Directory));
        Assert.True(ContainerClaim.IsHeld(paths));
    }

    [Fact]
    public void The_claim_lives_as_long_as_any_copy_of_its_descriptor()
    {
        // The anchor inherits create's descriptor: the same open file, so the same lock.
        var paths = Paths();
        var claim = ContainerClaim.TryTake(paths)!;
        var inherited = Scrun.Containers.Interop.LibC.dup(claim.Descriptor);
        claim.Dispose();

        Assert.True(ContainerClaim.IsHeld(paths));
        Scrun.Containers.Interop.LibC.close(inherited);
        Assert.False(ContainerClaim.IsHeld(paths));
    }
}
