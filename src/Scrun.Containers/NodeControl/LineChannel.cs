using System.Text;

namespace Scrun.Containers.NodeControl;

/// <summary>Lines of <see cref="NodeControlProtocol"/> over a stream, each at most <see cref="NodeControlProtocol.MaximumLine"/> bytes.</summary>
internal sealed class LineChannel(Stream stream) : IAsyncDisposable
{
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
