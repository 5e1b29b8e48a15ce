using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Config;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm;

/// <summary>A callback that was refused, and why (for logs).</summary>
public sealed record RejectedCallback(EndPoint? From, string Reason);

/// <summary>
/// The two ports an allocating client gives slurmctld (<c>alloc_resp_port</c> and
/// <c>other_port</c>): it answers <c>SRUN_PING</c> itself and hands the pushed grant,
/// <c>SRUN_JOB_COMPLETE</c>, <c>SRUN_TIMEOUT</c>, <c>SRUN_NODE_FAIL</c> and <c>SRUN_USER_MSG</c> to
/// <see cref="Callbacks"/>. Each callback's MUNGE credential is decoded and must come from
/// SlurmUser or root and carry the hash of the message, or the callback is dropped.
/// </summary>
public sealed class CallbackListener : IAsyncDisposable
{
    private readonly Socket _allocationSocket;
    private readonly Socket _messageSocket;
    private readonly IncomingMessages _incoming;
    private readonly TimeSpan _messageTimeout;
    private readonly Channel<SrunCallback> _callbacks = Channel.CreateUnbounded<SrunCallback>();
    private readonly Channel<RejectedCallback> _rejected = Channel.CreateBounded<RejectedCallback>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _jobCompleted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _allocationLoop;
    private readonly Task _messageLoop;

    private CallbackListener(Socket allocation, Socket message, IncomingMessages incoming, TimeSpan messageTimeout)
    {
        _allocationSocket = allocation;
        _messageSocket = message;
        _incoming = incoming;
        _messageTimeout = messageTimeout;
        _allocationLoop = IncomingMessages.AcceptEachAsync(_allocationSocket, HandleAsync, _stopping.Token);
        _messageLoop = IncomingMessages.AcceptEachAsync(_messageSocket, HandleAsync, _stopping.Token);
    }

    /// <summary>
    /// Listens on two ports (inside <c>SrunPortRange</c> when set). Without <paramref name="verifier"/>
    /// (JWT sites, which have no MUNGE) callbacks are accepted unverified.
    /// </summary>
    public static CallbackListener Start(SlurmConfig config, MungeClient? verifier, IAuthenticator? replyAuthenticator)
    {
        var allocation = IncomingMessages.Listen(config.SrunPortRange);
        try
        {
            var message = IncomingMessages.Listen(config.SrunPortRange);
            return new CallbackListener(allocation, message, IncomingMessages.For(config, verifier, replyAuthenticator), config.MessageTimeout);
        }
        catch
        {
            allocation.Dispose();
            throw;
        }
    }

    /// <summary>For <c>alloc_resp_port</c>: where slurmctld pushes the grant of a pending job.</summary>
    public int AllocationPort => IncomingMessages.PortOf(_allocationSocket);

    /// <summary>For <c>other_port</c>: pings, time-outs, node failures, job completion.</summary>
    public int MessagePort => IncomingMessages.PortOf(_messageSocket);

    public ChannelReader<SrunCallback> Callbacks => _callbacks.Reader;

    public ChannelReader<RejectedCallback> Rejected => _rejected.Reader;

    /// <summary>
    /// Completes when slurmctld has told of the job's end (<c>SRUN_JOB_COMPLETE</c>), whoever
    /// reads <see cref="Callbacks"/>: a listener closed before that makes slurmctld log an error.
    /// </summary>
    public Task JobCompleted => _jobCompleted.Task;

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _allocationSocket.Dispose();
        _messageSocket.Dispose();
        await Task.WhenAll(_allocationLoop, _messageLoop);
        _callbacks.Writer.TryComplete();
        _stopping.Dispose();
    }

    private async Task HandleAsync(Socket connection)
    {
        using (connection)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            deadline.CancelAfter(_messageTimeout);
            try
            {
                if (await SlurmTransport.ReadFrameAsync(connection, deadline.Token) is not { } message)
                {
                    return;
                }
                if (_incoming.Verify(message) is { } reason)
                {
                    _rejected.Writer.TryWrite(new RejectedCallback(connection.RemoteEndPoint, reason));
                    return;
                }
                var reader = new SlurmReader(message.Body);
                var callback = SrunCallback.Read(message.Type, ref reader, message.Version);
                if (callback is null)
                {
                    await _incoming.ReplyAsync(connection, message.Version, SlurmErrors.UnexpectedMessage, deadline.Token);
                    return;
                }
                reader.EnsureConsumed(message.Type.ToString());
                if (callback is SrunPing or AllocationGranted)
                {
                    await _incoming.ReplyAsync(connection, message.Version, 0, deadline.Token);
                }
                if (callback is SrunJobComplete)
                {
                    _jobCompleted.TrySetResult();
                }
                if (callback is not SrunPing)
                {
                    _callbacks.Writer.TryWrite(callback);
                }
            }
            catch (Exception e) when (e is SlurmClientException or SocketException or OperationCanceledException or IOException)
            {
                _rejected.Writer.TryWrite(new RejectedCallback(IncomingMessages.SafeRemote(connection), e.Message));
            }
        }
    }
}
