using System.Net.Sockets;
using Scrun.Slurm;
using Scrun.Slurm.Config;
using Scrun.Slurm.Interop;
using Serilog;

namespace Scrun.Containers.NodeControl;

/// <summary>
/// The anchor's side of <see cref="NodeControlProtocol"/>: a port the container's nodes connect
/// to, a secret only the step's environment carries, and what the nodes say. The container
/// runs once every node has said <c>running</c>; a signal goes to the container's process on
/// each node, through its <c>scrun node-run</c>, and to nothing else there.
/// </summary>
internal sealed class NodeControlChannel : IAsyncDisposable
{
    private static readonly TimeSpan s_helloPatience = TimeSpan.FromSeconds(30);

    private readonly Socket _listener;
    private readonly string _token = Interop.KernelRandom.Hex(16);
    private readonly int _nodes;
    private readonly ILogger _log;
    private readonly List<LineChannel> _nodesConnected = [];
    private readonly TaskCompletionSource<NodeMessage> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<int> _exitCodes = [];
    private int _greeted;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private int _running;

    private NodeControlChannel(Socket listener, int nodes, ILogger log)
    {
        _listener = listener;
        _nodes = nodes;
        _log = log;
        _accepting = ClientPorts.AcceptEachAsync(listener, ServeAsync, _stopping.Token);
    }

    /// <summary>Listens for the <paramref name="nodes"/> nodes of a step about to be launched.</summary>
    public static NodeControlChannel Open(SlurmConfig config, int nodes, ILogger log) =>
        new(ClientPorts.Listen(config), Math.Max(1, nodes), log);

    /// <summary>The value of <see cref="NodeControlProtocol.EnvironmentVariable"/> in the step's environment.</summary>
    public string EnvironmentValue => NodeControlProtocol.EnvironmentValue(ClientPorts.PortOf(_listener), _token);

    /// <summary>
    /// <see cref="NodeMessage.Running"/> once every node runs the container's process, or the
    /// first node's <see cref="NodeMessage.Failed"/>. Never completes if no node connects.
    /// </summary>
    public Task<NodeMessage> Started => _started.Task;

    /// <summary>Completes once every node's <c>scrun node-run</c> has said hello (it does first thing).</summary>
    public Task Connected => _connected.Task;

    /// <summary>
    /// The container's exit code once it has exited on every node (the highest, as srun reports
    /// a step's), as node-run saw it: what Slurm will say, unless slurmstepd cannot say it.
    /// Cancelled when the channel closes first.
    /// </summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Sends <paramref name="signal"/> to the container's process on every node; false when no node is connected.</summary>
    public async Task<bool> SignalAsync(Signal signal)
    {
        LineChannel[] nodes;
        lock (_nodesConnected)
        {
            nodes = [.. _nodesConnected];
        }
        var sent = false;
        foreach (var node in nodes)
        {
            try
            {
                await node.WriteAsync(NodeControlProtocol.Signal(signal), _stopping.Token);
                sent = true;
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                _log.Debug("node control: signal {Signal} not sent: {Reason}", signal, e.Message);
            }
        }
        return sent;
    }

    private async Task ServeAsync(Socket connection)
    {
        var peer = IncomingPeer(connection);
        await using var node = new LineChannel(new NetworkStream(connection, ownsSocket: true));
        try
        {
            if (!await node.IsGreetedWithAsync(_token, s_helloPatience, _stopping.Token))
            {
                _log.Warning("node control: a connection from {Peer} without the step's secret was closed", peer);
                return;
            }
            lock (_nodesConnected)
            {
                _nodesConnected.Add(node);
            }
            if (Interlocked.Increment(ref _greeted) == _nodes)
            {
                _connected.TrySetResult();
            }
            while (await node.ReadLineAsync(_stopping.Token) is { } line)
            {
                switch (NodeControlProtocol.Parse(line))
                {
                    case NodeMessage.Running running:
                        _log.Debug("node control: the container's process runs on {Peer} (pid {Pid})", peer, running.Pid);
                        // Counted before the answer (the node that hears it has been counted), said to
                        // run after it (a signal sent once the container runs comes after the answer).
                        var everyNodeRuns = Interlocked.Increment(ref _running) == _nodes;
                        await node.WriteAsync(NodeControlProtocol.Acknowledgement, _stopping.Token);
                        if (everyNodeRuns)
                        {
                            _started.TrySetResult(running);
                        }
                        break;
                    case NodeMessage.Exited exited:
                        _log.Debug("node control: the container's process exited on {Peer} with exit code {ExitCode}", peer, exited.ExitCode);
                        lock (_exitCodes)
                        {
                            _exitCodes.Add(exited.ExitCode);
                            if (_exitCodes.Count == _nodes)
                            {
                                _exited.TrySetResult(_exitCodes.Max());
                            }
                        }
                        break;
                    case NodeMessage.Failed failed:
                        _log.Debug("node control: the container could not start on {Peer}: {Message}", peer, failed.Message);
                        await node.WriteAsync(NodeControlProtocol.Acknowledgement, _stopping.Token);
                        _started.TrySetResult(failed);
                        break;
                    default:
                        _log.Warning("node control: {Peer} sent an unknown line", peer);
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            _log.Debug("node control: {Peer}: {Reason}", peer, e.Message);
        }
        finally
        {
            lock (_nodesConnected)
            {
                _nodesConnected.Remove(node);
            }
        }
    }

    private static string IncomingPeer(Socket connection)
    {
        try
        {
            return connection.RemoteEndPoint?.ToString() ?? "?";
        }
        catch (SocketException)
        {
            return "?";
        }
    }

    /// <summary>Closes the port and every node's connection (a node still running its container kills it).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _exited.TrySetCanceled();
        _listener.Dispose();
        LineChannel[] nodes;
        lock (_nodesConnected)
        {
            nodes = [.. _nodesConnected];
        }
        foreach (var node in nodes)
        {
            await node.DisposeAsync();
        }
        await _accepting;
        _stopping.Dispose();
    }
}
