using Scrun.Containers.Control;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Serilog;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The anchor's socket: mode 0600, and only the container's owner (or root acting for it, as
/// rootless engines and containerd do) may talk to it, checked with SO_PEERCRED.
/// </summary>
internal sealed class AnchorServer : IAsyncDisposable
{
    /// <summary>The longest request line: an exec's carries its process JSON (environment included).</summary>
    private const int MaxRequestLength = 65536;
    private readonly ContainerPaths _paths;
    private readonly uint _ownerUid;
    private readonly Func<ControlRequest, CancellationToken, Task<ControlResponse>> _handle;
    private readonly Func<ExecConnection, CancellationToken, Task>? _exec;
    private readonly ILogger _log;
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Task> _serving = [];
    private Task _loop = Task.CompletedTask;

    /// <param name="paths">The container's paths (its socket).</param>
    /// <param name="ownerUid">Who may talk to it (and root).</param>
    /// <param name="handle">Answers a request.</param>
    /// <param name="log">The anchor's log.</param>
    /// <param name="exec">Carries out an exec's whole exchange on its connection.</param>
    public AnchorServer(ContainerPaths paths, uint ownerUid, Func<ControlRequest, CancellationToken, Task<ControlResponse>> handle, ILogger log,
        Func<ExecConnection, CancellationToken, Task>? exec = null)
    {
        _paths = paths;
        _ownerUid = ownerUid;
        _handle = handle;
        _exec = exec;
        _log = log;
    }

    public void Start()
    {
        File.Delete(_paths.Socket);
        AnchorSocket.WithEndPoint(_paths, endPoint =>
        {
            _listener.Bind(endPoint);
            return true;
        });
        File.SetUnixFileMode(_paths.Socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(32);
        _loop = AcceptAsync();
    }

    /// <summary>
    /// Stops accepting, lets the requests being served answer (a delete's reply is written as
    /// the container ends), then cancels what still waits.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        await _loop;
        Task[] serving;
        lock (_serving)
        {
            serving = [.. _serving];
        }
        try
        {
            await Task.WhenAll(serving).WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (TimeoutException)
        {
        }
        await _stopping.CancelAsync();
        await Task.WhenAll(serving);
        if (File.Exists(_paths.Socket))
        {
            File.Delete(_paths.Socket);
        }
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            var serving = ServeAsync(connection);
            lock (_serving)
            {
                _serving.Add(serving);
            }
            _ = serving.ContinueWith(done =>
            {
                lock (_serving)
                {
                    _serving.Remove(done);
                }
            }, TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        using (connection)
        {
            try
            {
                var peer = AnchorSocket.PeerUid(connection);
                if (peer != _ownerUid && peer != 0)
                {
                    _log.Warning("refused a request from uid {Uid}: the container belongs to uid {Owner}", peer, _ownerUid);
                    await ReplyAsync(connection, new ControlResponse { Error = "permission denied: the container belongs to another user" });
                    return;
                }
                var descriptors = new List<int>();
                var request = await ReadRequestAsync(connection, descriptors, _stopping.Token);
                if (request is { Op: ControlOperation.Exec } && _exec is not null)
                {
                    using var exec = new ExecConnection(connection, request, descriptors);
                    await _exec(exec, _stopping.Token);
                    return;
                }
                descriptors.ForEach(fd => Interop.LibC.close(fd));
                var response = request is null
                    ? new ControlResponse { Error = "malformed request" }
                    : await _handle(request, _stopping.Token);
                await ReplyAsync(connection, response);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                _log.Debug("control connection ended early: {Reason}", e.Message);
            }
        }
    }

    /// <summary>The request's line, and the descriptors that came with it (an exec's stdio).</summary>
    private static async Task<ControlRequest?> ReadRequestAsync(Socket connection, List<int> descriptors, CancellationToken cancellation)
    {
        var buffer = new byte[MaxRequestLength];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await Interop.DescriptorPassing.ReceiveAsync(connection, buffer.AsMemory(length), descriptors, cancellation);
            if (read == 0)
            {
                break;
            }
            length += read;
            if (Array.IndexOf(buffer, (byte)'\n', length - read, read) >= 0)
            {
                break;
            }
        }
        try
        {
            var line = Encoding.UTF8.GetString(buffer, 0, length).Split('\n')[0];
            return JsonSerializer.Deserialize(line, ControlJsonContext.Default.ControlRequest);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task ReplyAsync(Socket connection, ControlResponse response)
    {
        var line = JsonSerializer.Serialize(response, ControlJsonContext.Default.ControlResponse) + "\n";
        await connection.SendAsync(Encoding.UTF8.GetBytes(line), SocketFlags.None);
    }
}
