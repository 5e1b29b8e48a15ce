using System.Net;
using System.Net.Sockets;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm;

/// <summary>
/// What every port scrun opens for Slurm's daemons shares: listening inside <c>SrunPortRange</c>,
/// checking that a message comes from root or SlurmUser through munged and carries its own hash,
/// and answering <c>RESPONSE_SLURM_RC</c> the way srun does.
/// </summary>
internal sealed class IncomingMessages(MungeClient? verifier, IAuthenticator? replyAuthenticator, uint slurmUserId)
{
    public static IncomingMessages For(Config.SlurmConfig config, MungeClient? verifier, IAuthenticator? replyAuthenticator) =>
        new(verifier, replyAuthenticator, LookUpUid(config.SlurmUser));

    public static Socket Listen((int First, int Last)? range, int backlog = 16)
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
            socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static int PortOf(Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    /// <summary>
    /// Accepts until <paramref name="stopping"/> or the listener is closed, each connection handed
    /// to <paramref name="handle"/>; completes once every handler has ended too (they watch the
    /// same token), so no connection outlives its listener.
    /// </summary>
    public static async Task AcceptEachAsync(Socket listener, Func<Socket, Task> handle, CancellationToken stopping)
    {
        var handlers = new List<Task>();
        while (!stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(stopping);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                break;
            }
            handlers.RemoveAll(h => h.IsCompleted);
            handlers.Add(handle(connection));
        }
        await Task.WhenAll(handlers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Null when the message is genuine; otherwise why it is not. Without munged (JWT sites) every message is taken.</summary>
    public string? Verify(SlurmMessage message)
    {
        if (verifier is null)
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
            decoded = verifier.Decode(credential.Text);
        }
        catch (MungeException e)
        {
            return e.Message;
        }
        if (decoded.Uid != 0 && decoded.Uid != slurmUserId)
        {
            return $"sent by uid {decoded.Uid}, neither root nor SlurmUser ({slurmUserId})";
        }
        return MessageHash.Matches(decoded.Payload, message.Type, message.Body) ? null : "the credential's hash does not match the message";
    }

    /// <summary>RESPONSE_SLURM_RC the way srun and salloc answer: a credential before 24.11, the NO_AUTH_CRED flag from then on.</summary>
    public async Task ReplyAsync(Socket connection, ProtocolVersion version, int returnCode, CancellationToken cancellation)
    {
        var body = new SlurmWriter(4);
        new ReturnCode(returnCode).WriteBody(body, version);
        byte[] frame;
        if (version >= ProtocolVersion.V24_11 || replyAuthenticator is null)
        {
            frame = SlurmFrame.Encode(version, MessageType.ResponseSlurmRc, body.WrittenSpan, null, MessageHeader.NoAuthCredential);
        }
        else
        {
            var credential = replyAuthenticator.CreateCredential(MessageType.ResponseSlurmRc, body.WrittenSpan);
            frame = SlurmFrame.Encode(version, MessageType.ResponseSlurmRc, body.WrittenSpan, credential);
        }
        await connection.SendAsync(frame, SocketFlags.None, cancellation);
    }

    public static EndPoint? SafeRemote(Socket socket)
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

    private static uint LookUpUid(string user)
    {
        if (uint.TryParse(user, out var numeric))
        {
            return numeric;
        }
        return PasswordDatabase.LookUpUid(user) ?? 0;
    }
}
