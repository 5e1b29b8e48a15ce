using System.Net;
using System.Net.Sockets;
using System.Text;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Auth;

/// <summary>What munged said about a credential it decoded.</summary>
public sealed record MungeDecodedCredential(
    uint Uid,
    uint Gid,
    IPAddress? EncodeHost,
    DateTimeOffset EncodedAt,
    uint TimeToLiveSeconds,
    byte[] Payload)
{
    public override string ToString() =>
        $"MungeDecodedCredential {{ Uid = {Uid}, Gid = {Gid}, EncodeHost = {EncodeHost}, EncodedAt = {EncodedAt:O}, Ttl = {TimeToLiveSeconds}, Payload = {Payload.Length} bytes }}";
}

/// <summary>munged refused or could not be reached; <see cref="MungeError"/> is its <c>munge_err_t</c>.</summary>
public sealed class MungeException(string message, int mungeError) : SlurmClientException(message)
{
    public const int SocketError = 6;
    public const int CredentialExpired = 15;

    public int MungeError { get; } = mungeError;
}

/// <summary>
/// Speaks munged's own protocol over its Unix socket (version 4: an 11-byte header, then a flat
/// body), so scrun needs neither libmunge nor the munge tools. munged learns the caller's uid and
/// gid from the socket itself (SO_PEERCRED) and does all the cryptography.
/// </summary>
public sealed class MungeClient(string? socketPath = null, TimeSpan? timeout = null)
{
    public const string DefaultSocketPath = "/run/munge/munge.socket.2";

    private const uint Magic = 0x00606D4B;
    private const byte ProtocolVersion = 4;
    private const byte EncodeRequest = 2;
    private const byte EncodeResponse = 3;
    private const byte DecodeRequest = 4;
    private const byte DecodeResponse = 5;
    private const int HeaderLength = 11;
    private const int MaxBodyLength = 2 * 1024 * 1024;
    private const byte DefaultAlgorithm = 1;
    private const uint AnyId = uint.MaxValue;

    public string SocketPath { get; } = socketPath ?? DefaultSocketPath;

    private readonly TimeSpan _timeout = timeout ?? TimeSpan.FromSeconds(5);

    /// <summary>Creates a credential carrying <paramref name="payload"/>, decodable by anyone holding the key.</summary>
    public string Encode(ReadOnlySpan<byte> payload, uint timeToLiveSeconds = 0)
    {
        var body = new SlurmWriter(32 + payload.Length);
        body.WriteU8(DefaultAlgorithm); // cipher
        body.WriteU8(DefaultAlgorithm); // mac
        body.WriteU8(DefaultAlgorithm); // zip
        body.WriteU8(0); // realm length
        body.WriteU32(timeToLiveSeconds); // 0: munged's default
        body.WriteU32(AnyId); // uid allowed to decode
        body.WriteU32(AnyId); // gid allowed to decode
        body.WriteU32((uint)payload.Length);
        body.WriteRaw(payload);

        var response = Exchange(EncodeRequest, EncodeResponse, body.WrittenSpan);
        var reader = new SlurmReader(response);
        ThrowOnError(ref reader, "encode");
        var text = reader.ReadRaw(checked((int)reader.ReadU32()));
        return Encoding.ASCII.GetString(text.TrimEnd((byte)0));
    }

    /// <summary>Decodes a credential; munged checks its MAC, time to live, replay and uid restriction.</summary>
    public MungeDecodedCredential Decode(string credential)
    {
        var body = new SlurmWriter(credential.Length + 8);
        body.WriteU32((uint)(credential.Length + 1));
        body.WriteRaw(Encoding.ASCII.GetBytes(credential));
        body.WriteU8(0);

        var response = Exchange(DecodeRequest, DecodeResponse, body.WrittenSpan);
        var reader = new SlurmReader(response);
        ThrowOnError(ref reader, "decode");
        reader.Skip(3); // cipher, mac, zip
        reader.Skip(reader.ReadU8()); // realm
        var ttl = reader.ReadU32();
        var address = reader.ReadRaw(reader.ReadU8());
        var encodedAt = reader.ReadU32();
        reader.Skip(4); // decoded at
        var uid = reader.ReadU32();
        var gid = reader.ReadU32();
        reader.Skip(8); // uid and gid allowed to decode
        var payload = reader.ReadRaw(checked((int)reader.ReadU32())).ToArray();
        return new MungeDecodedCredential(
            uid,
            gid,
            address.Length == 4 ? new IPAddress(address) : null,
            DateTimeOffset.FromUnixTimeSeconds(encodedAt),
            ttl,
            payload);
    }

    private static void ThrowOnError(ref SlurmReader reader, string operation)
    {
        var error = reader.ReadU8();
        var text = Encoding.ASCII.GetString(reader.ReadRaw(reader.ReadU8())).TrimEnd('\0');
        if (error != 0)
        {
            throw new MungeException($"munged refused to {operation} a credential: {text} (munge error {error})", error);
        }
    }

    private byte[] Exchange(byte requestType, byte responseType, ReadOnlySpan<byte> body)
    {
        using var socket = Connect();
        var header = new SlurmWriter(HeaderLength);
        header.WriteU32(Magic);
        header.WriteU8(ProtocolVersion);
        header.WriteU8(requestType);
        header.WriteU8(0); // retry count
        header.WriteU32((uint)body.Length);
        try
        {
            socket.Send(header.WrittenSpan);
            socket.Send(body);
            Span<byte> responseHeader = stackalloc byte[HeaderLength];
            ReceiveExactly(socket, responseHeader);
            var reader = new SlurmReader(responseHeader);
            if (reader.ReadU32() != Magic || reader.ReadU8() != ProtocolVersion)
            {
                throw new MungeException($"{SocketPath} does not speak munge protocol version {ProtocolVersion}", MungeException.SocketError);
            }
            var type = reader.ReadU8();
            reader.Skip(1); // retry
            var length = reader.ReadU32();
            if (type != responseType || length > MaxBodyLength)
            {
                throw new MungeException($"unexpected reply from munged (type {type}, {length} bytes)", MungeException.SocketError);
            }
            var response = new byte[length];
            ReceiveExactly(socket, response);
            return response;
        }
        catch (SocketException e)
        {
            throw new MungeException($"lost the connection to munged at {SocketPath}: {e.Message}", MungeException.SocketError);
        }
        catch (SlurmProtocolException e)
        {
            throw new MungeException($"malformed reply from munged: {e.Message}", MungeException.SocketError);
        }
    }

    private Socket Connect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
        {
            SendTimeout = (int)_timeout.TotalMilliseconds,
            ReceiveTimeout = (int)_timeout.TotalMilliseconds,
        };
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            var reason = e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused || !File.Exists(SocketPath)
                ? "is munged running?"
                : e.Message;
            throw new MungeException($"cannot reach munged at {SocketPath}: {reason}", MungeException.SocketError);
        }
    }

    private static void ReceiveExactly(Socket socket, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var received = socket.Receive(buffer);
            if (received == 0)
            {
                throw new MungeException("munged closed the connection mid-reply", MungeException.SocketError);
            }
            buffer = buffer[received..];
        }
    }
}
