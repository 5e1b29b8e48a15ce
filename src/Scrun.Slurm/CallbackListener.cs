using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Interop;
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
    private readonly MungeClient? _verifier;
    private readonly IAuthenticator? _replyAuthenticator;
    private readonly uint _slurmUserId;
    private readonly TimeSpan _messageTimeout;
    private readonly Channel<SrunCallback> _callbacks = Channel.CreateUnbounded<SrunCallback>();
    private readonly Channel<RejectedCallback> _rejected = Channel.CreateBounded<RejectedCallback>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _jobCompleted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _allocationLoop;
    private readonly Task _messageLoop;

    private CallbackListener(Socket allocation, Socket message, MungeClient? verifier, IAuthenticator? replyAuthenticator, uint slurmUserId, TimeSpan messageTimeout)
    {
        _allocationSocket = allocation;
        _messageSocket = message;
        _verifier = verifier;
        _replyAuthenticator = replyAuthenticator;
        _slurmUserId = slurmUserId;
        _messageTimeout = messageTimeout;
        _allocationLoop = AcceptLoopAsync(_allocationSocket);
        _messageLoop = AcceptLoopAsync(_messageSocket);
    }

    /// <summary>
    /// Listens on two ports (inside <c>SrunPortRange</c> when set). Without <paramref name="verifier"/>
    /// (JWT sites, which have no MUNGE) callbacks are accepted unverified.
    /// </summary>
    public static CallbackListener Start(SlurmConfig config, MungeClient? verifier, IAuthenticator? replyAuthenticator)
    {
        var allocation = Bind(config.SrunPortRange);
        try
        {
            var message = Bind(config.SrunPortRange);
            return new CallbackListener(allocation, message, verifier, replyAuthenticator, LookUpUid(config.SlurmUser), config.MessageTimeout);
        }
        catch
        {
            allocation.Dispose();
            throw;
        }
    }

    /// <summary>For <c>alloc_resp_port</c>: where slurmctld pushes the grant of a pending job.</summary>
    public int AllocationPort => ((IPEndPoint)_allocationSocket.LocalEndPoint!).Port;

    /// <summary>For <c>other_port</c>: pings, time-outs, node failures, job completion.</summary>
    public int MessagePort => ((IPEndPoint)_messageSocket.LocalEndPoint!).Port;

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

    private static Socket Bind((int First, int Last)? range)
    {
        var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        try
        {
            if (range is not { } ports)
            {
                socket.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
            }
            else
            {
                BindInRange(socket, ports.First, ports.Last);
            }
            socket.Listen(16);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void BindInRange(Socket socket, int first, int last)
    {
        var count = last - first + 1;
        var start = Random.Shared.Next(count);
        for (var i = 0; i < count; i++)
        {
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.IPv6Any, first + ((start + i) % count)));
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
            }
        }
        throw new SocketException((int)SocketError.AddressAlreadyInUse, $"every port of SrunPortRange {first}-{last} is in use");
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = HandleAsync(connection);
        }
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
                if (Verify(message) is { } reason)
                {
                    _rejected.Writer.TryWrite(new RejectedCallback(connection.RemoteEndPoint, reason));
                    return;
                }
                var reader = new SlurmReader(message.Body);
                var callback = SrunCallback.Read(message.Type, ref reader, message.Version);
                if (callback is null)
                {
                    await ReplyAsync(connection, message.Version, SlurmErrors.UnexpectedMessage, deadline.Token);
                    return;
                }
                reader.EnsureConsumed(message.Type.ToString());
                if (callback is SrunPing or AllocationGranted)
                {
                    await ReplyAsync(connection, message.Version, 0, deadline.Token);
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
                _rejected.Writer.TryWrite(new RejectedCallback(SafeRemote(connection), e.Message));
            }
        }
    }

    /// <summary>Null when the callback is genuine; otherwise why it is not.</summary>
    private string? Verify(SlurmMessage message)
    {
        if (_verifier is null)
        {
            return null;
        }
        if (message.Credential is not MungeCredentialText credential)
        {
            return "no MUNGE credential";
        }
        MungeDecodedCredential decoded;
        try
        {
            decoded = _verifier.Decode(credential.Text);
        }
        catch (MungeException e)
        {
            return e.Message;
        }
        if (decoded.Uid != 0 && decoded.Uid != _slurmUserId)
        {
            return $"sent by uid {decoded.Uid}, neither root nor SlurmUser ({_slurmUserId})";
        }
        return MessageHash.Matches(decoded.Payload, message.Type, message.Body) ? null : "the credential's hash does not match the message";
    }

    /// <summary>RESPONSE_SLURM_RC the way salloc answers: a credential before 24.11, the NO_AUTH_CRED flag from then on.</summary>
    private async Task ReplyAsync(Socket connection, ProtocolVersion version, int returnCode, CancellationToken cancellation)
    {
        var body = new SlurmWriter(4);
        new ReturnCode(returnCode).WriteBody(body, version);
        byte[] frame;
        if (version >= ProtocolVersion.V24_11 || _replyAuthenticator is null)
        {
            frame = SlurmFrame.Encode(version, MessageType.ResponseSlurmRc, body.WrittenSpan, null, MessageHeader.NoAuthCredential);
        }
        else
        {
            var credential = _replyAuthenticator.CreateCredential(MessageType.ResponseSlurmRc, body.WrittenSpan);
            frame = SlurmFrame.Encode(version, MessageType.ResponseSlurmRc, body.WrittenSpan, credential);
        }
        await connection.SendAsync(frame, SocketFlags.None, cancellation);
    }

    private static EndPoint? SafeRemote(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }

    private static uint LookUpUid(string user)
    {
        if (uint.TryParse(user, out var numeric))
        {
            return numeric;
        }
        return PasswordDatabase.LookUpUid(user) ?? 0;
    }
}
