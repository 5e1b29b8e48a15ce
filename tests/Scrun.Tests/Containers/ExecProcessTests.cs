using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Scrun.Containers;
using Scrun.Containers.Interop;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>The process an exec runs: --process as given, or the container's own with runc's flags applied; and the stdio the relay hands over.</summary>
public sealed class ExecProcessTests : IDisposable
{
    private static readonly ContainerId s_id = ContainerId.Parse("c1");
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-exec-process-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_process_file_is_taken_byte_for_byte_but_its_terminal()
    {
        var file = Path.Combine(_directory, "process.json");
        File.WriteAllText(file, "{\"user\":{\"uid\":1000,\"gid\":1000,\"additionalGids\":[5]},\"args\":[\"sh\",\"-c\",\"echo 'é' \\\"$X\\\"\"],\"env\":[\"A=1\"],\"cwd\":\"/tmp\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":10,\"soft\":10}]}");
        var (json, terminal) = ExecProcess.Resolve(new ExecRequest { Id = s_id, ProcessFile = file, Cwd = "/ignored" }, () => throw new InvalidOperationException("not read"));
        Assert.False(terminal);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(File.ReadAllText(file)), JsonNode.Parse(json)));

        var (withTty, onTerminal) = ExecProcess.Resolve(new ExecRequest { Id = s_id, ProcessFile = file, Tty = true }, () => null, inOwnUserNamespace: true);
        Assert.True(onTerminal);
        var process = JsonNode.Parse(withTty)!;
        Assert.True(process["terminal"]!.GetValue<bool>());
        Assert.Null(process["user"]!["additionalGids"]); // a one-id user namespace has no other group
    }

    [Fact]
    public void Without_a_file_the_containers_process_takes_the_flags()
    {
        var container = JsonNode.Parse("{\"args\":[\"sleep\",\"9\"],\"env\":[\"PATH=/bin\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},\"capabilities\":{\"bounding\":[\"CAP_CHOWN\"]},\"terminal\":true}")!.AsObject();
        var request = new ExecRequest
        {
            Id = s_id,
            Command = ["sh", "-c", "id"],
            Env = ["FOO=bar"],
            Cwd = "/tmp",
            User = "1000:100",
            Capabilities = ["net_raw", "CAP_KILL"],
            NoNewPrivileges = true,
        };
        var (json, terminal) = ExecProcess.Resolve(request, () => container);
        Assert.False(terminal); // the container's terminal is the container's: exec has one only with --tty
        var process = JsonNode.Parse(json)!;
        Assert.Equal("[\"sh\",\"-c\",\"id\"]", process["args"]!.ToJsonString());
        Assert.Equal("[\"PATH=/bin\",\"FOO=bar\"]", process["env"]!.ToJsonString());
        Assert.Equal("/tmp", process["cwd"]!.GetValue<string>());
        Assert.Equal("{\"uid\":1000,\"gid\":100}", process["user"]!.ToJsonString());
        Assert.Equal("[\"CAP_CHOWN\",\"CAP_NET_RAW\",\"CAP_KILL\"]", process["capabilities"]!["bounding"]!.ToJsonString());
        Assert.Equal("[\"CAP_NET_RAW\",\"CAP_KILL\"]", process["capabilities"]!["effective"]!.ToJsonString());
        Assert.True(process["noNewPrivileges"]!.GetValue<bool>());
        Assert.Equal("[\"sleep\",\"9\"]", container["args"]!.ToJsonString()); // the container's own is left alone
    }

    [Theory]
    [InlineData("{\"args\":", "is not JSON")]
    [InlineData("[1]", "is not an OCI process")]
    [InlineData("{\"args\":[]}", "is not an OCI process")]
    [InlineData("{\"args\":[1]}", "is not an OCI process")]
    [InlineData("{\"args\":[\"true\"],\"cwd\":\"tmp\"}", "\"cwd\" must be an absolute path")]
    public void A_broken_process_file_is_one_line(string content, string message)
    {
        var file = Path.Combine(_directory, "broken.json");
        File.WriteAllText(file, content);
        var e = Assert.Throws<ContainerException>(() => ExecProcess.Resolve(new ExecRequest { Id = s_id, ProcessFile = file }, () => null));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1:2:3")]
    [InlineData("1:x")]
    public void A_user_that_is_not_numbers_is_refused(string user)
    {
        var e = Assert.Throws<ContainerException>(() => ExecProcess.Resolve(new ExecRequest { Id = s_id, Command = ["true"], User = user }, () => null));
        Assert.Contains($"--user {user}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_process_too_large_for_the_anchors_request_is_refused()
    {
        var request = new ExecRequest { Id = s_id, Command = ["true"], Env = [new string('x', ExecProcess.MaxSize)] };
        Assert.Contains("more than the", Assert.Throws<ContainerException>(() => ExecProcess.Resolve(request, () => null)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Descriptors_travel_with_the_request_line()
    {
        var (a, b) = SocketPair();
        using (a)
        using (b)
        {
            var (read, write) = LibC.Pipe();
            try
            {
                DescriptorPassing.Send(a, Encoding.UTF8.GetBytes("{\"op\":\"exec\"}\n"), [write, write, read]);
                var received = new List<int>();
                var buffer = new byte[64];
                var length = await DescriptorPassing.ReceiveAsync(b, buffer, received, CancellationToken.None);
                Assert.Equal("{\"op\":\"exec\"}\n", Encoding.UTF8.GetString(buffer, 0, length));
                Assert.Equal(3, received.Count);
                using (var writer = new DescriptorStream(received[0]))
                {
                    writer.Write("through the passed descriptor"u8);
                }
                received.ForEach(fd => LibC.close(fd));
                LibC.close(write);
                write = -1;
                using var reader = new StreamReader(new DescriptorStream(read));
                Assert.Equal("through the passed descriptor", reader.ReadToEnd());
            }
            finally
            {
                LibC.close(read);
                if (write >= 0)
                {
                    LibC.close(write);
                }
            }
        }
    }

    private static (Socket, Socket) SocketPair()
    {
        var path = Path.Combine(Path.GetTempPath(), $"scrun-pass-{Guid.NewGuid():n}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        var server = listener.Accept();
        File.Delete(path);
        return (client, server);
    }
}
