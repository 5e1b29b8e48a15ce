using Scrun.Slurm;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

/// <summary>
/// A client that remembers which wire format its controller spoke sends nothing the controller
/// must refuse; one that remembers a format the controller no longer speaks probes once.
/// </summary>
public sealed class ProtocolMemoryTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-protocols-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string CachePath => Path.Combine(_directory, "protocols.json");

    /// <summary>A 24.11 controller: it refuses newer formats with an authentication error in its own version.</summary>
    private static FakeSlurmctld Controller2411() => new(request => request.Version > ProtocolVersion.V24_11
        ? FakeReply.ReturnCode(ProtocolVersion.V24_11, SlurmErrors.AuthenticationError)
        : FakeReply.ReturnCode(request.Version, 0));

    private static SlurmController Client(FakeSlurmctld fake, ProtocolVersion? remembered = null, ProtocolCache? cache = null) =>
        new(FakeSlurmctld.Config(fake.Port, "127.0.0.1"), new StubAuthenticator(), remembered: remembered, cache: cache);

    [Fact]
    public async Task A_probed_version_is_remembered_and_the_next_client_sends_only_what_the_controller_reads()
    {
        await using var fake = Controller2411();
        await Client(fake, cache: new ProtocolCache(CachePath)).SignalJobAsync(7, Signal.Kill);
        var probe = fake.Received.Count;

        await Client(fake, cache: new ProtocolCache(CachePath)).SignalJobAsync(7, Signal.Kill);

        Assert.Equal(3, probe); // 25.05 refused, 24.11 ping, then the request
        Assert.Equal(probe + 1, fake.Received.Count);
        Assert.Equal(ProtocolVersion.V24_11, fake.Received[^1].Version);
    }

    [Fact]
    public async Task A_remembered_version_the_controller_no_longer_speaks_is_probed_once_and_the_request_sent_again()
    {
        // The controller was 25.05 when remembered, and is 24.11 now (a downgrade looks like an upgrade).
        await using var fake = Controller2411();
        var cache = new ProtocolCache(CachePath);
        var client = Client(fake, remembered: ProtocolVersion.V25_05, cache: cache);

        await client.SignalJobAsync(7, Signal.Kill);

        Assert.Equal(ProtocolVersion.V24_11, client.Version);
        Assert.Equal([ProtocolVersion.V25_05, ProtocolVersion.V25_05, ProtocolVersion.V24_11, ProtocolVersion.V24_11], fake.Received.Select(r => r.Version));
        Assert.Equal(ProtocolVersion.V24_11, cache.Recall(client.ControllerKey));
        await client.SignalJobAsync(7, Signal.Kill);
        Assert.Equal(5, fake.Received.Count); // settled: no probe again
    }

    [Fact]
    public async Task A_pinned_version_is_never_probed_nor_replaced_by_a_remembered_one()
    {
        await using var fake = Controller2411();
        var client = new SlurmController(FakeSlurmctld.Config(fake.Port, "127.0.0.1"), new StubAuthenticator(), ProtocolVersion.V24_05, remembered: ProtocolVersion.V22_05);

        await client.SignalJobAsync(7, Signal.Kill);

        Assert.Equal(ProtocolVersion.V24_05, Assert.Single(fake.Received).Version);
    }

    [Fact]
    public void Remembered_versions_age_out_and_a_broken_cache_is_no_memory()
    {
        new ProtocolCache(CachePath).Remember("ctl:6817", ProtocolVersion.V22_05);
        Assert.Equal(ProtocolVersion.V22_05, new ProtocolCache(CachePath).Recall("ctl:6817"));
        Assert.Null(new ProtocolCache(CachePath, lifetime: TimeSpan.Zero).Recall("ctl:6817"));
        Assert.Null(new ProtocolCache(CachePath).Recall("other:6817"));

        File.WriteAllText(CachePath, "{ not json");
        Assert.Null(new ProtocolCache(CachePath).Recall("ctl:6817"));
        new ProtocolCache(CachePath).Remember("ctl:6817", ProtocolVersion.V24_11);
        Assert.Equal(ProtocolVersion.V24_11, new ProtocolCache(CachePath).Recall("ctl:6817"));
    }
}
