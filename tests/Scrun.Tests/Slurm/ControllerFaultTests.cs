using System.Net;
using Scrun.Slurm;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

/// <summary>The controller client against faults a real slurmctld cannot be made to produce.</summary>
public class ControllerFaultTests
{
    private static SlurmController Client(FakeSlurmctld fake, ProtocolVersion? version = null, ProcessIdentity? identity = null) =>
        new(FakeSlurmctld.Config(fake.Port, "127.0.0.1"), new StubAuthenticator(), version, identity);

    [Fact]
    public async Task A_24_11_controller_refuses_25_05_with_rc_1007_in_its_own_version_and_the_probe_settles_on_24_11()
    {
        await using var fake = new FakeSlurmctld(request => request.Version > ProtocolVersion.V24_11
            ? FakeReply.ReturnCode(ProtocolVersion.V24_11, SlurmErrors.AuthenticationError)
            : FakeReply.ReturnCode(request.Version, 0));
        var client = Client(fake);

        var ping = await client.PingAsync();

        Assert.Equal(ProtocolVersion.V24_11, ping.Version);
        Assert.Equal([ProtocolVersion.V25_05, ProtocolVersion.V24_11, ProtocolVersion.V24_11], fake.Received.Select(r => r.Version));
    }

    [Fact]
    public async Task A_22_05_controller_closes_on_newer_versions_and_the_probe_settles_on_22_05()
    {
        await using var fake = new FakeSlurmctld(request => request.Version > ProtocolVersion.V22_05
            ? new FakeReply.Close()
            : FakeReply.ReturnCode(request.Version, 0));

        var ping = await Client(fake).PingAsync();

        Assert.Equal(ProtocolVersion.V22_05, ping.Version);
        // One refusal (one error line in slurmctld's log), not one per newer format.
        Assert.Equal([ProtocolVersion.V25_05, ProtocolVersion.V22_05, ProtocolVersion.V22_05], fake.Received.Select(r => r.Version));
    }

    [Fact]
    public async Task A_controller_answering_in_its_own_older_format_is_asked_in_that_one_next()
    {
        await using var fake = new FakeSlurmctld(request => request.Version > ProtocolVersion.V24_05
            ? FakeReply.ReturnCode(ProtocolVersion.V24_05, SlurmErrors.AuthenticationError)
            : FakeReply.ReturnCode(request.Version, 0));

        var ping = await Client(fake).PingAsync();

        Assert.Equal(ProtocolVersion.V24_05, ping.Version);
        Assert.Equal([ProtocolVersion.V25_05, ProtocolVersion.V24_05, ProtocolVersion.V24_05], fake.Received.Select(r => r.Version));
    }

    [Fact]
    public async Task A_controller_answering_http_to_every_version_is_a_version_mismatch()
    {
        await using var fake = new FakeSlurmctld(_ => new FakeReply.Bytes("HTTP/1.1 405 NOT ALLOWED\r\nConnection: Close\r\n\r\n"u8.ToArray()));

        var error = await Assert.ThrowsAsync<SlurmVersionMismatchException>(() => Client(fake).PingAsync());

        Assert.Contains("22.05", error.Message);
        Assert.Equal(ProtocolVersion.Supported.Count, fake.Received.Count);
    }

    [Fact]
    public async Task A_controller_too_new_for_us_names_both_versions()
    {
        var future = new ProtocolVersion(0x2F00);
        await using var fake = new FakeSlurmctld(_ => FakeReply.ReturnCode(future, SlurmErrors.AuthenticationError));

        var error = await Assert.ThrowsAsync<SlurmVersionMismatchException>(() => Client(fake).PingAsync());

        Assert.Equal(future, error.ServerVersion);
        Assert.Contains("0x2F00", error.Message);
        Assert.Contains("25.05, 24.11, 24.05, 22.05", error.Message);
    }

    [Fact]
    public async Task A_configured_version_is_used_without_probing()
    {
        await using var fake = new FakeSlurmctld(request => FakeReply.ReturnCode(request.Version, 0));

        await Client(fake, ProtocolVersion.V24_05).PingAsync();

        Assert.Equal(ProtocolVersion.V24_05, Assert.Single(fake.Received).Version);
    }

    [Fact]
    public async Task A_truncated_reply_is_a_protocol_error()
    {
        await using var fake = new FakeSlurmctld(_ => new FakeReply.Bytes(Convert.FromHexString("0000006426000000")));

        var error = await Assert.ThrowsAsync<SlurmProtocolException>(() => Client(fake, ProtocolVersion.V22_05).PingAsync());

        Assert.Contains("closed after 4 of 100 bytes", error.Message);
    }

    [Fact]
    public async Task Garbage_after_a_valid_header_is_a_protocol_error()
    {
        var reply = FakeSlurmctld.Frame(ProtocolVersion.V24_11, new ReturnCode(0)).Concat(new byte[] { 1, 2, 3 }).ToArray();
        reply[3] += 3; // the length prefix covers the garbage, the header's body length does not
        await using var fake = new FakeSlurmctld(_ => new FakeReply.Bytes(reply));

        var error = await Assert.ThrowsAsync<SlurmProtocolException>(() => Client(fake, ProtocolVersion.V24_11).PingAsync());

        Assert.Contains("4-byte body but 7 bytes follow", error.Message);
    }

    [Fact]
    public async Task A_reply_announcing_a_gigantic_frame_is_refused_before_reading_it()
    {
        await using var fake = new FakeSlurmctld(_ => new FakeReply.Bytes(Convert.FromHexString("7FFFFFFF")));

        var error = await Assert.ThrowsAsync<SlurmProtocolException>(() => Client(fake, ProtocolVersion.V24_11).PingAsync());

        Assert.Contains("frame length", error.Message);
    }

    [Fact]
    public async Task A_silent_controller_times_out_after_message_timeout()
    {
        await using var fake = new FakeSlurmctld(_ => new FakeReply.Silence());

        var config = FakeSlurmctld.Config(fake.Port, "127.0.0.1") with { MessageTimeout = TimeSpan.FromSeconds(1) };
        var client = new SlurmController(config, new StubAuthenticator(), ProtocolVersion.V24_11);

        var error = await Assert.ThrowsAsync<SlurmUnreachableException>(() => client.PingAsync());

        Assert.Contains($"no reply from 127.0.0.1:{fake.Port} within 1 s", error.Message);
    }

    [Fact]
    public async Task A_standby_controller_hands_over_to_the_next_one()
    {
        await using var standby = new FakeSlurmctld(r => FakeReply.ReturnCode(r.Version, SlurmErrors.InStandbyMode), IPAddress.Parse("127.0.0.2"));
        await using var primary = new FakeSlurmctld(r => FakeReply.ReturnCode(r.Version, 0), IPAddress.Parse("127.0.0.3"), standby.Port);
        var client = new SlurmController(FakeSlurmctld.Config(standby.Port, "127.0.0.2", "127.0.0.3"), new StubAuthenticator(), ProtocolVersion.V24_11);

        var ping = await client.PingAsync();

        Assert.Equal("127.0.0.3", ping.Controller.Address);
        Assert.Single(standby.Received);
        // the controller that answered is tried first from then on
        await client.PingAsync();
        Assert.Single(standby.Received);
    }

    [Fact]
    public async Task A_dead_controller_is_skipped_and_all_dead_is_one_clear_error()
    {
        await using var alive = new FakeSlurmctld(r => FakeReply.ReturnCode(r.Version, 0), IPAddress.Parse("127.0.0.3"));
        var client = new SlurmController(FakeSlurmctld.Config(alive.Port, "127.0.0.4", "127.0.0.3"), new StubAuthenticator(), ProtocolVersion.V24_11);

        Assert.Equal("127.0.0.3", (await client.PingAsync()).Controller.Address);

        var none = new SlurmController(FakeSlurmctld.Config(alive.Port, "127.0.0.4", "127.0.0.5"), new StubAuthenticator(), ProtocolVersion.V24_11);
        var error = await Assert.ThrowsAsync<SlurmUnreachableException>(() => none.PingAsync());
        Assert.Contains($"ctl0(127.0.0.4):{alive.Port}", error.Message);
        Assert.Contains($"ctl1(127.0.0.5):{alive.Port}", error.Message);
    }

    [Fact]
    public async Task A_job_submit_plugin_rejection_carries_its_message()
    {
        await using var fake = new FakeSlurmctld(r => FakeReply.ReturnCode(r.Version, 2019, "containers must set --time on this cluster"));

        var error = await Assert.ThrowsAsync<SlurmException>(() => Client(fake, ProtocolVersion.V24_11).AllocateAsync(new JobDescriptor { MinNodes = 1 }));

        Assert.Equal("containers must set --time on this cluster", error.Detail);
        Assert.StartsWith("containers must set --time on this cluster (", error.Message);
    }

    [Fact]
    public async Task A_pending_job_has_no_allocation_yet()
    {
        await using var fake = new FakeSlurmctld(r => FakeReply.ReturnCode(r.Version, SlurmErrors.JobPending));

        Assert.Null(await Client(fake, ProtocolVersion.V24_11).GetAllocationAsync(7));
    }

    [Theory]
    [InlineData(0x2600, 0u, 0u, true, NoValue.U32)]
    [InlineData(0x2A00, 0u, 0u, true, NoValue.AuthNobody)]
    [InlineData(0x2B00, 0u, 0u, true, NoValue.AuthNobody)]
    [InlineData(0x2600, 1000u, 1000u, false, 1000u)]
    [InlineData(0x2A00, 0u, 0u, false, 0u)]
    public async Task Unset_ids_are_the_callers_unless_it_is_root_in_a_user_namespace(ushort version, uint uid, uint gid, bool namespaced, uint expected)
    {
        var protocol = new ProtocolVersion(version);
        await using var fake = new FakeSlurmctld(r => new FakeReply.Bytes(Granted(r.Version)));

        await Client(fake, protocol, new ProcessIdentity(uid, gid, namespaced)).AllocateAsync(new JobDescriptor { MinNodes = 1 });

        var sent = Assert.Single(fake.Received);
        var reader = new SlurmReader(sent.Body);
        var job = JobDescriptor.Read(ref reader, protocol);
        Assert.Equal(expected, job.UserId);
        Assert.Equal(expected, job.GroupId);
    }

    private static byte[] Granted(ProtocolVersion version)
    {
        var body = new SlurmWriter();
        new ResourceAllocationResponse { JobId = 7, NodeCount = 1, NodeList = "n1" }.WriteBody(body, version);
        return Scrun.Slurm.Wire.SlurmFrame.Encode(version, MessageType.ResponseResourceAllocation, body.WrittenSpan, null, MessageHeader.NoAuthCredential);
    }
}
