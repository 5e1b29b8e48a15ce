using System.Net;
using System.Net.Sockets;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm;

/// <summary>One request, one reply, one TCP connection: how every Slurm client talks to slurmctld.</summary>
internal static class SlurmTransport
{
    public static async Task<SlurmMessage?> ExchangeAsync(string host, int port, byte[] frame, TimeSpan timeout, CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true, NoDelay = true };
        try
        {
            await socket.ConnectAsync(await ResolveAsync(host, deadline.Token), port, deadline.Token);
            await socket.SendAsync(frame, SocketFlags.None, deadline.Token);
            return await ReadFrameAsync(socket, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"no reply from {host}:{port} within {timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Reads one framed message; null when the peer closed before sending anything.</summary>
    public static async Task<SlurmMessage?> ReadFrameAsync(Socket socket, CancellationToken cancellation)
    {
        var prefix = new byte[SlurmFrame.LengthPrefixSize];
        if (!await ReceiveExactlyAsync(socket, prefix, allowCleanClose: true, cancellation))
        {
            return null;
        }
        var frame = new byte[SlurmFrame.ReadLengthPrefix(prefix)];
        await ReceiveExactlyAsync(socket, frame, allowCleanClose: false, cancellation);
        return SlurmFrame.Decode(frame);
    }

    private static async Task<bool> ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, bool allowCleanClose, CancellationToken cancellation)
    {
        var received = 0;
        while (received < buffer.Length)
        {
            var count = await socket.ReceiveAsync(buffer[received..], SocketFlags.None, cancellation);
            if (count == 0)
            {
                if (received == 0 && allowCleanClose)
                {
                    return false;
                }
                throw new SlurmProtocolException($"connection closed after {received} of {buffer.Length} bytes");
            }
            received += count;
        }
        return true;
    }

    private static async Task<IPAddress> ResolveAsync(string host, CancellationToken cancellation)
    {
        if (IPAddress.TryParse(host, out var address))
        {
            return address;
        }
        var addresses = await Dns.GetHostAddressesAsync(host, cancellation);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
    }
}
