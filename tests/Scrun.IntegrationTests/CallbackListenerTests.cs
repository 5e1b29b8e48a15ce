using System.Net.Sockets;
using Scrun.IntegrationTests.Infrastructure;
using Scrun.Slurm;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>The callback listener against genuine and hostile callers, with the bed's real munged.</summary>
[Collection(TestbedCollection.Name)]
public sealed class CallbackListenerTests(SlurmClustersFixture slurm) : IAsyncLifetime
{
    private static readonly ProtocolVersion s_version = ProtocolVersion.V22_05;
    private readonly MungeClient _munge = new();
    private CallbackListener _listener = null!;

    public Task InitializeAsync()
    {
        var config = slurm.Clusters["22.05"].Config;
        _listener = CallbackListener.Start(config, _munge, new MungeAuthenticator(_munge));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _listener.DisposeAsync();

    private static byte[] Body(SrunCallback callback)
    {
        var body = new SlurmWriter();
        callback.Write(body, s_version);
        return body.ToArray();
    }

    private byte[] Frame(SrunCallback callback, AuthCredential? credential)
    {
        var body = Body(callback);
        return SlurmFrame.Encode(s_version, callback.Type, body, credential, credential is null ? MessageHeader.NoAuthCredential : (ushort)0);
    }

    private MungeCredentialText RootCredential(SrunCallback callback) =>
        new(_munge.Encode(MessageHash.Compute(callback.Type, Body(callback))));

    private static async Task<SlurmMessage?> SendAsync(int port, byte[] frame)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", port);
        await socket.SendAsync(frame);
        socket.Shutdown(SocketShutdown.Send);
        var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while ((read = await socket.ReceiveAsync(chunk, SocketFlags.None, timeout.Token)) > 0)
            {
                buffer.Write(chunk, 0, read);
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // the listener hung up on unread garbage
        }
        return buffer.Length == 0 ? null : SlurmFrame.Decode(buffer.ToArray().AsSpan(4));
    }

    private async Task<RejectedCallback> NextRejectionAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _listener.Rejected.ReadAsync(timeout.Token);
    }

    [Fact]
    public async Task Slurmctlds_ping_is_answered_with_rc_0_and_a_credential()
    {
        var ping = new SrunPing();

        var reply = await SendAsync(_listener.MessagePort, Frame(ping, RootCredential(ping)));

        Assert.NotNull(reply);
        SlurmController.ExpectSuccess(reply);
        Assert.IsType<MungeCredentialText>(reply.Credential);
        Assert.False(_listener.Callbacks.TryRead(out _));
    }

    [Fact]
    public async Task A_genuine_job_completion_is_handed_on()
    {
        var complete = new SrunJobComplete(StepId.WholeJob(42));

        Assert.Null(await SendAsync(_listener.MessagePort, Frame(complete, RootCredential(complete))));

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(complete, await _listener.Callbacks.ReadAsync(timeout.Token));
    }

    [Fact]
    public async Task Garbage_is_dropped()
    {
        Assert.Null(await SendAsync(_listener.AllocationPort, "GET / HTTP/1.1\r\n\r\n"u8.ToArray()));

        Assert.Contains("frame length", (await NextRejectionAsync()).Reason);
        Assert.False(_listener.Callbacks.TryRead(out _));
    }

    [Fact]
    public async Task A_callback_without_a_credential_is_dropped()
    {
        Assert.Null(await SendAsync(_listener.MessagePort, Frame(new SrunJobComplete(StepId.WholeJob(42)), credential: null)));

        Assert.Equal("no MUNGE credential", (await NextRejectionAsync()).Reason);
        Assert.False(_listener.Callbacks.TryRead(out _));
    }

    [Fact]
    public async Task A_credential_made_for_another_message_is_dropped()
    {
        var other = new SrunJobComplete(StepId.WholeJob(1));
        var forged = new SrunJobComplete(StepId.WholeJob(42));

        Assert.Null(await SendAsync(_listener.MessagePort, Frame(forged, RootCredential(other))));

        Assert.Contains("hash does not match", (await NextRejectionAsync()).Reason);
        Assert.False(_listener.Callbacks.TryRead(out _));
    }

    [Fact]
    public async Task A_callback_from_an_ordinary_user_is_dropped()
    {
        var forged = new SrunJobComplete(StepId.WholeJob(42));
        var payload = Path.Combine(Path.GetTempPath(), $"scrun-payload-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(payload, MessageHash.Compute(forged.Type, Body(forged)));
        File.SetUnixFileMode(payload, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        try
        {
            var encoded = ProcessRunner.Run("runuser", ["-u", "nobody", "--", "munge", "-i", payload]);
            Assert.True(encoded.ExitCode == 0, encoded.ToString());

            Assert.Null(await SendAsync(_listener.MessagePort, Frame(forged, new MungeCredentialText(encoded.Stdout.Trim()))));

            Assert.Contains("sent by uid 65534", (await NextRejectionAsync()).Reason);
            Assert.False(_listener.Callbacks.TryRead(out _));
        }
        finally
        {
            File.Delete(payload);
        }
    }
}
