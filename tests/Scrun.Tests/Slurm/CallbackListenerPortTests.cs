using System.Net;
using System.Net.Sockets;
using Scrun.Slurm;
using Scrun.Slurm.Config;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

public class CallbackListenerPortTests
{
    private static SlurmConfig WithRange(int first, int last) =>
        FakeSlurmctld.Config(6817, "127.0.0.1") with { SrunPortRange = (first, last) };

    private static int FreePortPair()
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var port = Random.Shared.Next(40000, 60000);
            try
            {
                using var a = new TcpListener(IPAddress.IPv6Any, port);
                using var b = new TcpListener(IPAddress.IPv6Any, port + 1);
                a.Start();
                b.Start();
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("no free pair of ports");
    }

    [Fact]
    public async Task Both_ports_come_from_SrunPortRange()
    {
        var first = FreePortPair();

        await using var listener = CallbackListener.Start(WithRange(first, first + 1), verifier: null, replyAuthenticator: null);

        Assert.Equal([first, first + 1], new[] { listener.AllocationPort, listener.MessagePort }.Order());
    }

    [Fact]
    public async Task A_range_too_small_for_both_ports_is_a_clear_error()
    {
        var first = FreePortPair();

        var error = Assert.Throws<SocketException>(() => CallbackListener.Start(WithRange(first, first), verifier: null, replyAuthenticator: null));

        Assert.Contains($"every port of SrunPortRange {first}-{first} is in use", error.Message);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Without_munge_callbacks_are_taken_unverified_and_pings_answered_without_a_credential()
    {
        await using var listener = CallbackListener.Start(FakeSlurmctld.Config(6817, "127.0.0.1"), verifier: null, replyAuthenticator: null);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, listener.MessagePort);

        await socket.SendAsync(SlurmFrame.Encode(ProtocolVersion.V24_11, MessageType.SrunPing, [], null, MessageHeader.NoAuthCredential));

        var buffer = new byte[256];
        var read = await socket.ReceiveAsync(buffer);
        var reply = SlurmFrame.Decode(buffer.AsSpan(4, read - 4));
        SlurmController.ExpectSuccess(reply);
        Assert.Null(reply.Credential);
        Assert.Equal(ProtocolVersion.V24_11, reply.Version);
    }
}
