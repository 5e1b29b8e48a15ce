using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Scrun.Containers.NodeControl;

/// <summary>
/// Lines over a stream, each at most <see cref="NodeControlProtocol.MaximumLine"/> bytes: the
/// anchor's connections with its nodes (<see cref="NodeControlProtocol"/>, <see cref="JobLeaseProtocol"/>),
/// each opened by the node with <c>hello TOKEN</c>.
/// </summary>
internal sealed class LineChannel(Stream stream) : IAsyncDisposable
{
    /// <summary>The node's side: connects to the anchor and says hello with the step's secret.</summary>
    public static async Task<LineChannel> ConnectAsync(string host, int port, string token, CancellationToken cancellation)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cancellation);
            var channel = new LineChannel(new NetworkStream(socket, ownsSocket: true));
            await channel.WriteAsync(NodeControlProtocol.Hello(token), cancellation);
            return channel;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The anchor's side: whether the first line, within <paramref name="patience"/>, is hello with <paramref name="token"/>.</summary>
    public async Task<bool> IsGreetedWithAsync(string token, TimeSpan patience, CancellationToken stopping)
    {
        using var hello = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        hello.CancelAfter(patience);
        return NodeControlProtocol.Parse(await ReadLineAsync(hello.Token) ?? "") is NodeMessage.Hello { Token: var said }
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(said), Encoding.ASCII.GetBytes(token));
    }

    private readonly byte[] _buffer = new byte[NodeControlProtocol.MaximumLine];
    private readonly SemaphoreSlim _writing = new(1, 1);
    private int _start;
    private int _end;

    /// <summary>The next line without its newline; null at the end of the stream.</summary>
    /// <exception cref="IOException">A line longer than the protocol allows.</exception>
    public async Task<string?> ReadLineAsync(CancellationToken cancellation)
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var line = Encoding.UTF8.GetString(_buffer, _start, newline - _start);
                _start = newline + 1;
                return line;
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                throw new IOException("a line longer than the node control protocol allows");
            }
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellation);
            if (read == 0)
            {
                return null;
            }
            _end += read;
        }
    }

    public async Task WriteAsync(string line, CancellationToken cancellation)
    {
        await _writing.WaitAsync(cancellation);
        try
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(line), cancellation);
            await stream.FlushAsync(cancellation);
        }
        finally
        {
            _writing.Release();
        }
    }

    public ValueTask DisposeAsync() => stream.DisposeAsync();
}
