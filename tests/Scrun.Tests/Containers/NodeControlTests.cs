using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Scrun.Containers.Interop;
using Scrun.Containers.NodeControl;
using Scrun.Slurm.Config;
using Scrun.Slurm.Interop;
using Serilog;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>
/// <c>scrun node-run</c> and the anchor's side of it without Slurm: the protocol's lines, the
/// runtime's command line, oci.conf's choice, the anchor's port, and node-run itself around a
/// fake runtime (a shell script that writes its pid file as runc does).
/// </summary>
public sealed class NodeControlTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-node-run-").FullName;

    public void Dispose() => FileTree.Remove(_directory);

    [Fact]
    public void Every_line_parses_back_to_what_was_said()
    {
        Assert.Equal(new NodeMessage.Hello("abc"), NodeControlProtocol.Parse(NodeControlProtocol.Hello("abc").TrimEnd('\n')));
        Assert.Equal(new NodeMessage.Running(42), NodeControlProtocol.Parse(NodeControlProtocol.Running(42).TrimEnd('\n')));
        Assert.Equal(new NodeMessage.Signal(Signal.User1), NodeControlProtocol.Parse(NodeControlProtocol.Signal(Signal.User1).TrimEnd('\n')));
        Assert.Equal(new NodeMessage.Acknowledged(), NodeControlProtocol.Parse(NodeControlProtocol.Acknowledgement.TrimEnd('\n')));
        Assert.Equal(new NodeMessage.Exited(137), NodeControlProtocol.Parse(NodeControlProtocol.Exited(137).TrimEnd('\n')));
        Assert.Equal(new NodeMessage.Failed(1, "runc run failed: a b"), NodeControlProtocol.Parse(NodeControlProtocol.Failed(1, "runc run failed:\na b\n").TrimEnd('\n')));
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("running 0")]
    [InlineData("running -3")]
    [InlineData("signal 0")]
    [InlineData("signal 65")]
    [InlineData("signal TERM")]
    [InlineData("failed x message")]
    [InlineData("ok then")]
    [InlineData("exited")]
    [InlineData("exited 256")]
    [InlineData("exited -1")]
    [InlineData("bogus 1")]
    public void A_line_that_is_none_of_the_protocols_is_refused(string line) => Assert.Null(NodeControlProtocol.Parse(line));

    [Fact]
    public void A_failure_too_long_for_a_line_is_cut()
    {
        var line = NodeControlProtocol.Failed(1, new string('x', 10_000));
        Assert.Equal(NodeControlProtocol.MaximumLine, line.Length);
        Assert.EndsWith("\n", line);
    }

    [Theory]
    [InlineData("1234:abcd", true)]
    [InlineData("0:abcd", false)]
    [InlineData("70000:abcd", false)]
    [InlineData("1234:", false)]
    [InlineData(":abcd", false)]
    [InlineData("abcd", false)]
    public void The_control_variable_is_a_port_and_a_secret(string value, bool valid) =>
        Assert.Equal(valid, NodeControlProtocol.TryParseEnvironmentValue(value, out _, out _));

    [Fact]
    public void The_runtime_command_names_its_id_bundle_and_pid_file_and_takes_a_pid_file_and_a_log()
    {
        var command = RuntimeCommand.Parse(["/usr/sbin/runc", "--root=/run/x", "run", "--bundle", "/b", "n1.0.7.0.0"])!;
        Assert.Equal("n1.0.7.0.0", command.Id);
        Assert.Equal("/b", command.Bundle);
        Assert.Null(command.PidFile);
        Assert.True(command.IsRunc);
        Assert.False(command.HasLog);

        var managed = command.WithPidFile("/tmp/p").WithJsonLog("/tmp/l");
        Assert.Equal(["/usr/sbin/runc", "--log", "/tmp/l", "--log-format", "json", "--root=/run/x", "run", "--pid-file", "/tmp/p", "--bundle", "/b", "n1.0.7.0.0"], managed.Arguments);
        Assert.Equal("/tmp/p", managed.PidFile);
        Assert.Equal("/b", managed.Bundle);
        Assert.True(managed.HasLog);

        var crun = RuntimeCommand.Parse(["crun", "run", "--bundle=/c", "--pid-file=/p", "id"])!;
        Assert.Equal(("/c", "/p", false), (crun.Bundle, crun.PidFile, crun.IsRunc));
    }

    [Theory]
    [InlineData("/usr/sbin/runc", "state", "id")]
    [InlineData("/usr/sbin/runc", "run", "--bundle")]
    [InlineData("/usr/sbin/runc", "run", "")]
    public void A_command_without_run_and_an_id_is_run_as_it_is(string runtime, string verb, string last) =>
        Assert.Null(RuntimeCommand.Parse(last.Length == 0 ? [runtime, verb] : [runtime, verb, last]));

    [Theory]
    [InlineData("RunTimeRun=\"exec /usr/local/libexec/scrun/oci-run /usr/local/bin/scrun node-run -- /usr/sbin/runc run --bundle %b %n\"", true)]
    [InlineData("RunTimeRun=\"/opt/scrun-1.2 node-run -- runc run --bundle %b %n\"", true)]
    [InlineData("RunTimeRun=\"exec /usr/sbin/runc --root=/run/x run --bundle %b %n.%u.%j.%s.%t\"", false)]
    [InlineData("RunTimeRun=\"/usr/sbin/runc run --bundle %b node-run\"", false)]
    [InlineData("RunTimeQuery=\"scrun node-run\"", false)]
    public void Oci_conf_says_whether_the_nodes_run_node_run(string line, bool expected)
    {
        var path = Path.Combine(_directory, "oci.conf");
        File.WriteAllText(path, line + "\n");
        Assert.Equal(expected, OciConfig.Load(path).RunsNodeRun);
    }

    [Fact]
    public async Task The_anchors_port_hears_no_node_without_the_secret_and_starts_once_every_node_runs()
    {
        await using var channel = NodeControlChannel.Open(LoopbackConfig(), nodes: 2, new LoggerConfiguration().CreateLogger());
        NodeControlProtocol.TryParseEnvironmentValue(channel.EnvironmentValue, out var port, out var token);

        using var stranger = await ConnectAsync(port);
        await SayAsync(stranger, "hello not-the-secret\nrunning 1\n");
        Assert.Equal(0, await stranger.GetStream().ReadAsync(new byte[16])); // closed on it

        using var first = await ConnectAsync(port);
        using var second = await ConnectAsync(port);
        await SayAsync(first, $"hello {token}\nrunning 11\n");
        await SayAsync(second, $"hello {token}\n");
        await channel.Connected.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("ok", await HearAsync(first));
        Assert.False(channel.Started.IsCompleted); // one node of two runs the container
        await SayAsync(second, "running 22\n");
        Assert.Equal(new NodeMessage.Running(22), await channel.Started.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.True(await channel.SignalAsync(Signal.User1));
        Assert.Equal("signal 10", await HearAsync(first));
        Assert.Equal("ok", await HearAsync(second));
        Assert.Equal("signal 10", await HearAsync(second));

        await SayAsync(first, "exited 3\n");
        first.Dispose(); // its task ends at once
        await SayAsync(second, "exited 137\n");
        Assert.Equal(137, await channel.Exited.WaitAsync(TimeSpan.FromSeconds(30))); // both nodes' word, the highest
    }

    [Fact]
    public async Task Node_run_reports_the_process_in_the_pid_file_signals_it_alone_and_ends_with_its_status()
    {
        var bundle = Bundle(out var anchor, out var token);
        var runner = Run(bundle, FakeRuntime("fake-runtime", "trap 'echo USR1 >> \"$out\"' USR1; trap 'exit 42' USR2; : > \"$ready\"; while :; do sleep 0.02; done"));
        using var node = await AcceptAsync(anchor);

        Assert.Equal($"hello {token}", await HearAsync(node));
        var running = await HearAsync(node);
        var pid = int.Parse(running!["running ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(File.ReadAllText(Path.Combine(_directory, "container.pid")).Trim(), pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await SayAsync(node, "ok\nsignal 10\n");
        await WaitForFileAsync(Path.Combine(_directory, "signals"));
        await SayAsync(node, "signal 12\n");

        Assert.Equal("exited 42", await HearAsync(node)); // the container's status, whatever becomes of Slurm's word on it
        Assert.Equal(42, await runner.WaitAsync(TimeSpan.FromSeconds(30))); // no answer needed
        Assert.Equal("USR1\n", File.ReadAllText(Path.Combine(_directory, "signals"))); // once: the runtime script itself got nothing
        var env = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!["process"]!["env"]!.AsArray().Select(v => (string)v!).ToList();
        Assert.Equal(["PATH=/bin", "SLURM_SRUN_COMM_HOST=127.0.0.1"], env); // the secret is the step's, not the container's
        Assert.Null(await HearAsync(node));
    }

    [Fact]
    public async Task Node_run_kills_the_container_when_its_anchor_goes_away()
    {
        var bundle = Bundle(out var anchor, out _);
        var runner = Run(bundle, FakeRuntime("fake-runtime", "trap '' TERM; : > \"$ready\"; while :; do sleep 0.02; done"));
        using (var node = await AcceptAsync(anchor))
        {
            await HearAsync(node);
            Assert.StartsWith("running ", await HearAsync(node));
        }
        Assert.Equal(128 + 9, await runner.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Node_run_reports_runcs_error_when_runc_ends_before_the_process_runs()
    {
        var bundle = Bundle(out var anchor, out _);
        var runc = FakeRuntime("runc", "", before: """
            log=; previous=; for a in "$@"; do [ "$previous" = --log ] && log=$a; previous=$a; done
            echo '{"level":"error","msg":"runc run failed: sysctl \"x\" is not in a separate kernel namespace","time":"t"}' > "$log"
            echo 'runc run failed: sysctl "x" is not in a separate kernel namespace' >&2
            exit 1
            """);
        var runner = Run(bundle, runc);
        using var node = await AcceptAsync(anchor);
        await HearAsync(node);
        Assert.Equal("failed 1 runc run failed: sysctl \"x\" is not in a separate kernel namespace", await HearAsync(node));
        Assert.False(runner.IsCompleted); // it waits for the anchor to have the report
        await SayAsync(node, "ok\n");
        Assert.Equal(1, await runner.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Node_run_without_its_anchor_reachable_fails_in_one_line()
    {
        var bundle = Bundle(out var anchor, out _);
        var port = ((IPEndPoint)anchor.LocalEndPoint!).Port;
        anchor.Dispose();
        var stderr = new StringWriter();
        var code = await new NodeRunner([FakeRuntime("fake-runtime", "exit 0"), "run", "--bundle", bundle, "id"], stderr).RunAsync();
        Assert.Equal(1, code);
        Assert.StartsWith($"scrun node-run: error: cannot reach the container's anchor at 127.0.0.1 port {port}: ", stderr.ToString());
        Assert.Equal(1, stderr.ToString().Count(c => c == '\n'));
    }

    private string Bundle(out Socket anchor, out string token)
    {
        anchor = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        anchor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        anchor.Listen();
        token = "s3cret";
        var bundle = Directory.CreateDirectory(Path.Combine(_directory, "bundle")).FullName;
        var control = NodeControlProtocol.EnvironmentValue(((IPEndPoint)anchor.LocalEndPoint!).Port, token);
        File.WriteAllText(Path.Combine(bundle, "config.json"),
            $$$"""{"process":{"args":["sh"],"env":["PATH=/bin","SCRUN_NODE_CONTROL={{{control}}}","SLURM_SRUN_COMM_HOST=127.0.0.1"]} }""");
        return bundle;
    }

    /// <summary>
    /// A runtime that runs <paramref name="container"/> as its container's process and ends with
    /// its status; the pid file appears once the process has created <c>$ready</c> (its traps set).
    /// </summary>
    private string FakeRuntime(string name, string container, string before = "")
    {
        var path = Path.Combine(Directory.CreateDirectory(Path.Combine(_directory, "bin")).FullName, name);
        File.WriteAllText(path, $$"""
            #!/bin/sh
            {{before}}
            pidfile=; previous=; for a in "$@"; do [ "$previous" = --pid-file ] && pidfile=$a; previous=$a; done
            ready={{Path.Combine(_directory, "ready")}}
            out={{Path.Combine(_directory, "signals")}} ready=$ready sh -c '{{container.Replace("'", "'\\''", StringComparison.Ordinal)}}' &
            while [ ! -e "$ready" ]; do sleep 0.01; done
            echo $! > {{Path.Combine(_directory, "container.pid")}} && echo $! > "$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"
            wait $!
            """);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static Task<int> Run(string bundle, string runtime) =>
        Task.Run(() => new NodeRunner([runtime, "--root=/x", "run", "--bundle", bundle, "n1.0.7.0.0"], TextWriter.Null).RunAsync());

    private static SlurmConfig LoopbackConfig() => new() { Path = "/dev/null" };

    private static async Task<TcpClient> ConnectAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        return client;
    }

    private static async Task<TcpClient> AcceptAsync(Socket listener)
    {
        using (listener)
        {
            return new TcpClient { Client = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30)) };
        }
    }

    private static Task SayAsync(TcpClient client, string text) => client.GetStream().WriteAsync(System.Text.Encoding.UTF8.GetBytes(text)).AsTask();

    private static async Task<string?> HearAsync(TcpClient client)
    {
        var line = new List<byte>();
        var one = new byte[1];
        while (await client.GetStream().ReadAsync(one).AsTask().WaitAsync(TimeSpan.FromSeconds(30)) == 1)
        {
            if (one[0] == '\n')
            {
                return System.Text.Encoding.UTF8.GetString([.. line]);
            }
            line.Add(one[0]);
        }
        return line.Count == 0 ? null : System.Text.Encoding.UTF8.GetString([.. line]);
    }

    private static async Task WaitForFileAsync(string path)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !File.Exists(path) || new FileInfo(path).Length == 0; await Task.Delay(10))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{path} never appeared");
        }
    }
}
