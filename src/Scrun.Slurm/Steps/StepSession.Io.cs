using System.Net.Sockets;

namespace Scrun.Slurm.Steps;

/// <summary>
/// The I/O port: each node's slurmstepd connects once, proves it holds the step's credential (the
/// key in its <c>io_init_msg</c>), then sends its tasks' stdout and stderr and takes their stdin,
/// which is sent to every node. The window-size port: in pty mode, each resize as 4 bytes.
/// </summary>
public sealed partial class StepSession
{
    private readonly Lock _ioGate = new();
    private readonly List<(Socket Socket, NetworkStream Stream)> _ioConnections = [];
    private readonly SemaphoreSlim _outputGate = new(1, 1);
    private readonly TaskCompletionSource _allConnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _outputDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _finishedOutputs;
    private readonly Lock _windowGate = new();
    private Socket? _windowConnection;
    private WindowSize? _latestSize;
    private Task? _stdinPump;

    /// <summary>
    /// Tells task 0's terminal its new size (pty mode). A resize before slurmstepd's window
    /// connection is kept and sent when it arrives: Docker resizes right after start.
    /// </summary>
    public void Resize(WindowSize size)
    {
        Socket? connection;
        lock (_windowGate)
        {
            _latestSize = size;
            connection = _windowConnection;
        }
        SendSize(connection, size);
    }

    private void SendSize(Socket? connection, WindowSize size)
    {
        try
        {
            connection?.Send(size.Encode());
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _log($"step {Step}: the window size did not reach the node: {e.Message}");
        }
    }

    private async Task HandleIoAsync(Socket connection)
    {
        var stream = new NetworkStream(connection, ownsSocket: false);
        IoInitMessage init;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            deadline.CancelAfter(_controller.Config.MessageTimeout);
            init = await IoInitMessage.ReadAsync(stream, deadline.Token);
            var reason = _created is { } created ? init.Validate(created.IoKey, (int)created.Layout.NodeCount) : "no step was launched yet";
            if (reason is not null)
            {
                throw new SlurmProtocolException(reason);
            }
        }
        catch (Exception e) when (e is SlurmClientException or IOException or SocketException or OperationCanceledException)
        {
            _log($"step {Step}: refused an I/O connection from {IncomingMessages.SafeRemote(connection)}: {e.Message}");
            await stream.DisposeAsync();
            connection.Dispose();
            return;
        }
        lock (_ioGate)
        {
            _ioConnections.Add((connection, stream));
            if (_ioConnections.Count == _request.NodeCount)
            {
                _allConnected.TrySetResult();
                _stdinPump ??= Task.Run(PumpStdinAsync);
            }
        }
        await RelayOutputAsync(init, stream);
        // As srun does once a node's streams have all ended: slurmstepd waits for this close
        // before it finishes the step (a step cancelled early otherwise never reports its exit).
        lock (_ioGate)
        {
            _ioConnections.Remove((connection, stream));
        }
        await stream.DisposeAsync();
        connection.Dispose();
    }

    /// <summary>Launched, yet no slurmstepd calls back (a firewall, a node that cannot reach this host): the step is lost, not waited for forever.</summary>
    private async Task GiveUpUnlessConnectedAsync()
    {
        try
        {
            await _allConnected.Task.WaitAsync(_request.LostStepGrace, _stopping.Token);
        }
        catch (TimeoutException)
        {
            int connected;
            lock (_ioGate)
            {
                connected = _ioConnections.Count;
            }
            await GiveUpUnlessExitedAsync($"{_request.NodeCount - connected} node(s) never connected their I/O to this host (port {IncomingMessages.PortOf(_ioListener)}): can the compute nodes reach it?", TimeSpan.Zero);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RelayOutputAsync(IoInitMessage init, NetworkStream stream)
    {
        var tracker = EndOfStreamTracker.For(init);
        var reader = new IoFrameReader(stream);
        try
        {
            while (!tracker.IsFinished)
            {
                if (await reader.ReadAsync(_stopping.Token) is not { } frame)
                {
                    _ = GiveUpUnlessExitedAsync($"node {init.NodeId} closed its I/O connection before the end of its output");
                    break;
                }
                tracker.Observe(frame.Header);
                if (frame.Payload.IsEmpty || frame.Type is not (IoStreamType.Stdout or IoStreamType.Stderr))
                {
                    continue;
                }
                await _outputGate.WaitAsync(_stopping.Token);
                try
                {
                    var target = frame.Type == IoStreamType.Stdout ? _streams.Output : _streams.Error;
                    await target.WriteAsync(frame.Payload, _stopping.Token);
                    await target.FlushAsync(_stopping.Token);
                }
                finally
                {
                    _outputGate.Release();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is SlurmClientException or IOException or SocketException)
        {
            _log($"step {Step}: node {init.NodeId}'s I/O failed: {e.Message}");
            _ = GiveUpUnlessExitedAsync($"node {init.NodeId}'s I/O connection failed: {e.Message}");
        }
        if (Interlocked.Increment(ref _finishedOutputs) == _request.NodeCount)
        {
            _outputDone.TrySetResult();
        }
    }

    /// <summary>
    /// The container's stdin, to every node in chunks of at most 1024 bytes; its end, as an empty
    /// frame. A terminal with no input is left open: its end would close the task's terminal
    /// (slurmstepd closes the pty's master, and every later resize fails with EBADF).
    /// </summary>
    private async Task PumpStdinAsync()
    {
        if (_streams.Input is null && _request.Terminal is not null)
        {
            return;
        }
        var buffer = new byte[4096];
        try
        {
            while (_streams.Input is { } input)
            {
                var count = await input.ReadAsync(buffer, _stopping.Token);
                if (count == 0)
                {
                    break;
                }
                await ToEveryNodeAsync(stream => IoFrameWriter.WriteStdinAsync(stream, buffer.AsMemory(0, count), _stopping.Token));
            }
            await ToEveryNodeAsync(stream => IoFrameWriter.WriteStdinEndAsync(stream, _stopping.Token));
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException e)
        {
            _log($"step {Step}: the container's stdin failed: {e.Message}");
            await ToEveryNodeAsync(stream => IoFrameWriter.WriteStdinEndAsync(stream, _stopping.Token));
        }
    }

    private async Task ToEveryNodeAsync(Func<NetworkStream, Task> write)
    {
        List<NetworkStream> streams;
        lock (_ioGate)
        {
            streams = _ioConnections.Select(c => c.Stream).ToList();
        }
        foreach (var stream in streams)
        {
            try
            {
                await write(stream);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                _log($"step {Step}: stdin did not reach a node: {e.Message}");
            }
        }
    }

    private Task HandleWindowConnectionAsync(Socket connection)
    {
        Socket? previous;
        WindowSize? latest;
        lock (_windowGate)
        {
            previous = _windowConnection;
            _windowConnection = connection;
            latest = _latestSize;
        }
        previous?.Dispose();
        if (latest is { } size)
        {
            SendSize(connection, size);
        }
        return Task.CompletedTask;
    }

    private void CloseConnections()
    {
        lock (_ioGate)
        {
            foreach (var (socket, stream) in _ioConnections)
            {
                stream.Dispose();
                socket.Dispose();
            }
            _ioConnections.Clear();
        }
        Socket? window;
        lock (_windowGate)
        {
            window = _windowConnection;
            _windowConnection = null;
        }
        window?.Dispose();
    }

    private void WriteError(string text)
    {
        try
        {
            _streams.Error.Write(System.Text.Encoding.UTF8.GetBytes(text));
            _streams.Error.Flush();
        }
        catch (IOException)
        {
        }
    }
}
