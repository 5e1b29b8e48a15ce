using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Scrun.Containers.Control;
using Scrun.Containers.NodeCommands;
using Scrun.Containers.Interop;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The anchor's side of one exec: the relay's request, the stdio it handed over (SCM_RIGHTS),
/// and the connection, which stays open while the process runs. The anchor answers once the
/// process is started (or refused), then once more with its exit code; the relay sends the
/// signals it gets and its terminal's resizes. The relay closing the connection ends the process.
/// </summary>
internal sealed class ExecConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NodeTaskStdio? _stdio;

    public ExecConnection(Socket socket, ControlRequest request, IReadOnlyList<int> descriptors)
    {
        _socket = socket;
        Request = request;
        if (descriptors.Count == 3)
        {
            _stdio = request.Terminal
                ? new NodeTaskStdio(descriptors[0], -1, -1, Terminal: true)
                : new NodeTaskStdio(descriptors[0], descriptors[1], descriptors[2], Terminal: false);
            if (request.Terminal)
            {
                LibC.close(descriptors[1]);
                LibC.close(descriptors[2]);
            }
        }
        else
        {
            descriptors.ToList().ForEach(fd => LibC.close(fd));
        }
    }

    public ControlRequest Request { get; }

    /// <summary>Once the exchange is over (the process has ended, or was refused).</summary>
    public Task Finished => _finished.Task;

    /// <summary>The stdio, handed over to whoever runs the process (null when the relay sent none, or it was taken).</summary>
    public NodeTaskStdio? TakeStdio() => Interlocked.Exchange(ref _stdio, null);

    public async Task SendAsync(ControlResponse response)
    {
        try
        {
            var line = JsonSerializer.Serialize(response, ControlJsonContext.Default.ControlResponse) + "\n";
            await _socket.SendAsync(Encoding.UTF8.GetBytes(line), SocketFlags.None);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The relay is gone: nobody is left to tell.
        }
    }

    /// <summary>The relay's requests (signals, resizes) until it closes the connection.</summary>
    public async IAsyncEnumerable<ControlRequest> ReadRequestsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation)
    {
        using var stream = new NetworkStream(_socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(cancellation);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                yield break;
            }
            if (line is null)
            {
                yield break;
            }
            ControlRequest? request = null;
            try
            {
                request = JsonSerializer.Deserialize(line, ControlJsonContext.Default.ControlRequest);
            }
            catch (JsonException)
            {
            }
            if (request is not null)
            {
                yield return request;
            }
        }
    }

    public void Finish() => _finished.TrySetResult();

    public void Dispose()
    {
        TakeStdio()?.Close();
        Finish();
    }
}
