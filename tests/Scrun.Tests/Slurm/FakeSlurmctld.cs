using System.Net;
using System.Net.Sockets;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Config;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;

namespace Scrun.Tests.Slurm;

/// <summary>What the fake controller does with one request.</summary>
internal abstract record FakeReply
{
    /// <summary>Sends these bytes (a frame, or deliberately not one), then closes.</summary>
    public sealed record Bytes(byte[] Data) : FakeReply;

    /// <summary>Closes the connection without a word (how 22.05 refuses a version).</summary>
    public sealed record Close : FakeReply;

    /// <summary>Never answers.</summary>
    public sealed record Silence : FakeReply;

    /// <summary>RESPONSE_SLURM_RC in the given version, the way slurmctld of that release frames it.</summary>
    public static FakeReply ReturnCode(ProtocolVersion version, int code, string? message = null) =>
        new Bytes(FakeSlurmctld.Frame(version, new ReturnCode(code, message)));
}

/// <summary>
/// An in-process slurmctld built from the client's own codec, for what a real one cannot be made
/// to do: refuse versions in each release's way, break frames, stall, or be on standby.
/// </summary>
internal sealed class FakeSlurmctld : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<SlurmMessage, FakeReply> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeSlurmctld(Func<SlurmMessage, FakeReply> handler, IPAddress? address = null, int port = 0)
    {
        _handler = handler;
        _listener = new TcpListener(address ?? IPAddress.Loopback, port);
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public List<SlurmMessage> Received { get; } = [];

    /// <summary>A client configuration naming these fake controllers, in order, on <paramref name="port"/>.</summary>
    public static SlurmConfig Config(int port, params string[] addresses) => new()
    {
        Path = "fake/slurm.conf",
        Controllers = addresses.Select((a, i) => new ControllerHost($"ctl{i}", a)).ToList(),
        FirstPort = port,
        LastPort = port,
        MessageTimeout = TimeSpan.FromSeconds(15), // generous: a loaded CI machine must not turn a reply into a timeout
    };

    public static byte[] Frame(ProtocolVersion version, ISlurmRequest message)
    {
        var body = new SlurmWriter();
        message.WriteBody(body, version);
        return version >= ProtocolVersion.V24_11
            ? SlurmFrame.Encode(version, message.Type, body.WrittenSpan, null, MessageHeader.NoAuthCredential)
            : SlurmFrame.Encode(version, message.Type, body.WrittenSpan, new MungeCredentialText("MUNGE:fake:"));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            try
            {
                var prefix = new byte[4];
                await stream.ReadExactlyAsync(prefix, _stop.Token);
                var frame = new byte[SlurmFrame.ReadLengthPrefix(prefix)];
                await stream.ReadExactlyAsync(frame, _stop.Token);
                var request = SlurmFrame.Decode(frame);
                lock (Received)
                {
                    Received.Add(request);
                }
                switch (_handler(request))
                {
                    case FakeReply.Bytes bytes:
                        await stream.WriteAsync(bytes.Data, _stop.Token);
                        break;
                    case FakeReply.Silence:
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                        break;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or EndOfStreamException)
            {
            }
        }
    }
}

/// <summary>Credentials for the fake: no munged needed.</summary>
internal sealed class StubAuthenticator : IAuthenticator
{
    public AuthCredential CreateCredential(MessageType type, ReadOnlySpan<byte> body) => new MungeCredentialText("MUNGE:stub:");
}
