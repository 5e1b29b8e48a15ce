using System.Net.Sockets;
using System.Text;
using Scrun.Slurm;
using Scrun.Slurm.Config;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Steps;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm.Steps;

/// <summary>
/// The native launcher against a fake slurmctld and a fake slurmd whose slurmstepd calls back the
/// way a real one does (the frames of the captured 22.05 step).
/// </summary>
public sealed class StepSessionTests : IAsyncLifetime // xunit 2 never calls IAsyncDisposable
{
    private static readonly ProtocolVersion s_version = ProtocolVersion.V22_05;
    private readonly JobStepCreateResponse _created = CapturedStepCreated();
    private readonly List<Task> _stepds = [];
    private readonly CancellationTokenSource _testEnded = new();
    private FakeSlurmctld? _slurmctld;
    private FakeSlurmctld? _slurmd;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _testEnded.CancelAsync();
        await Task.WhenAll(_stepds).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_slurmctld is not null)
        {
            await _slurmctld.DisposeAsync();
        }
        if (_slurmd is not null)
        {
            await _slurmd.DisposeAsync();
        }
    }

    [Fact]
    public async Task Output_comes_back_stdin_goes_out_and_the_task_exit_is_the_exit_code()
    {
        var controller = Cluster(stepd: async (launch, ports) =>
        {
            await using var io = await ports.ConnectIoAsync(stdout: 1, stderr: 1);
            await ports.ReportAsync(new LaunchTasksResponse(Step(launch), 0, "n1", [4242], [0]));
            await IoFrameWriter.WriteOutputAsync(io, IoStreamType.Stdout, "hello\n"u8.ToArray());
            await IoFrameWriter.WriteOutputAsync(io, IoStreamType.Stderr, "warning\n"u8.ToArray());
            var input = await ReadStdinAsync(io);
            await IoFrameWriter.WriteOutputAsync(io, IoStreamType.Stdout, input);
            await IoFrameWriter.WriteOutputEndAsync(io, IoStreamType.Stdout);
            await IoFrameWriter.WriteOutputEndAsync(io, IoStreamType.Stderr);
            await ports.ReportAsync(new TaskExitMessage(0x300, [0], Step(launch)));
        });
        var streams = new StepStreams(new MemoryStream(Encoding.ASCII.GetBytes(new string('x', 2500))), new MemoryStream(), new MemoryStream());

        await using var session = await StepSession.LaunchAsync(controller, Request(), streams);

        Assert.Equal(3, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("hello\n" + new string('x', 2500), Encoding.ASCII.GetString(((MemoryStream)streams.Output).ToArray()));
        Assert.Equal("warning\n", Encoding.ASCII.GetString(((MemoryStream)streams.Error).ToArray()));
        Assert.Equal(new StepId(7, _created.Step.StepNumber), session.Step);

        var launch = LaunchReceived();
        Assert.Equal(1901u, launch.UserId);
        Assert.Equal(1902u, launch.GroupId);
        Assert.Equal("/srv/bundle", launch.Container);
        Assert.Equal(["sh", "-c", "echo hello"], launch.Arguments);
        Assert.Equal(_created.Credential, launch.Credential);
        Assert.Equal(LaunchTasksRequest.BufferedIo, launch.Flags);
        Assert.Contains($"SLURM_STEP_ID={_created.Step.StepNumber}", launch.Environment);
        Assert.Contains("CONTAINER_VAR=1", launch.Environment);
        Assert.Contains("SLURM_MPI_TYPE=none", launch.Environment); // without it 22.05's slurmstepd ends the step
        Assert.Contains("SLURM_JOB_ID=7", launch.Environment); // what srun adds (LauncherEnvironmentTests)
        Assert.Contains("SLURM_CONTAINER=/srv/bundle", launch.Environment);
        Assert.Contains("SLURM_RLIMIT_NOFILE=1024", launch.Environment);
        Assert.Contains("SLURM_UMASK=0022", launch.Environment);
        Assert.Contains("SLURM_JOB_UID=1901", launch.Environment);
        Assert.Equal(LaunchTasksRequest.NoMpiPlugin, launch.MpiPluginId); // 22.05's id; 23.11+ want NO_VAL

        var create = Decode(_slurmctld!.Received.Single(m => m.Type == MessageType.RequestJobStepCreate), JobStepCreateRequest.ReadBody);
        Assert.Equal(1901u, create.UserId); // 22.05 checks it against the MUNGE uid: the job owner's, not 99
        Assert.Equal("/srv/bundle", create.Container);
        Assert.Equal(7u, create.JobId);
    }

    [Fact]
    public async Task A_node_that_refuses_the_launch_fails_it_and_its_part_of_the_step_is_completed()
    {
        var controller = Cluster(launchReply: FakeReply.ReturnCode(s_version, SlurmErrors.InvalidUserId, "nope"));

        var error = await Assert.ThrowsAsync<SlurmException>(() => StepSession.LaunchAsync(controller, Request(), Streams()));

        Assert.Equal(SlurmErrors.InvalidUserId, error.ErrorNumber);
        Assert.Contains("n1 refused to launch step", error.Message, StringComparison.Ordinal);
        var complete = Decode(_slurmctld!.Received.Single(m => m.Type == MessageType.RequestStepComplete), StepCompleteRequest.ReadBody);
        Assert.Equal(new StepCompleteRequest(new StepId(7, _created.Step.StepNumber), 0, 0, SlurmErrors.InvalidUserId), complete);
        var launch = LaunchReceived();
        foreach (var port in launch.ResponsePorts.Concat(launch.IoPorts))
        {
            using var client = new TcpClient();
            await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", port)); // no listener left behind
        }
    }

    [Fact]
    public async Task An_unreachable_slurmd_fails_the_launch_and_completes_the_step()
    {
        var controller = Cluster(slurmdPort: ClosedPort());

        var error = await Assert.ThrowsAsync<SlurmException>(() => StepSession.LaunchAsync(controller, Request(), Streams()));

        Assert.Contains("cannot reach slurmd of n1", error.Message, StringComparison.Ordinal);
        Assert.Single(_slurmctld!.Received, m => m.Type == MessageType.RequestStepComplete);
    }

    [Fact]
    public async Task A_step_on_a_node_slurm_conf_does_not_name_is_completed_not_left_holding_the_job()
    {
        var controller = Cluster(nodeName: "n9");

        var error = await Assert.ThrowsAsync<SlurmConfigException>(() => StepSession.LaunchAsync(controller, Request(), Streams()));

        Assert.Contains("no NodeName line defines node n1", error.Message, StringComparison.Ordinal);
        var complete = Decode(_slurmctld!.Received.Single(m => m.Type == MessageType.RequestStepComplete), StepCompleteRequest.ReadBody);
        Assert.Equal(new StepId(7, _created.Step.StepNumber), complete.Step);
        Assert.DoesNotContain(_slurmd!.Received, _ => true);
    }

    [Fact]
    public async Task Busy_nodes_are_waited_for_as_srun_waits()
    {
        var attempts = 0;
        var controller = Cluster(
            stepd: (launch, ports) => ExitAsync(launch, ports, 0),
            createReply: () => Interlocked.Increment(ref attempts) < 3
                ? FakeReply.ReturnCode(s_version, SlurmErrors.NodesBusy)
                : new FakeReply.Bytes(FakeSlurmctld.Frame(s_version, _created)));
        var messages = new List<string>();

        await using var session = await StepSession.LaunchAsync(controller, Request(), Streams(), messages.Add);

        Assert.Equal(0, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(3, attempts);
        Assert.Equal(2, messages.Count(m => m.Contains("temporarily disabled", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_refused_step_is_slurmctlds_error()
    {
        var controller = Cluster(createReply: () => FakeReply.ReturnCode(s_version, SlurmErrors.AccessDenied));

        var error = await Assert.ThrowsAsync<SlurmException>(() => StepSession.LaunchAsync(controller, Request(), Streams()));

        Assert.Equal(SlurmErrors.AccessDenied, error.ErrorNumber);
        Assert.DoesNotContain(_slurmd!.Received, _ => true);
    }

    [Fact]
    public async Task An_io_connection_without_the_credentials_key_is_refused()
    {
        var controller = Cluster(stepd: async (launch, ports) =>
        {
            await using (var stranger = await ports.ConnectIoAsync(stdout: 1, stderr: 1, key: Encoding.ASCII.GetBytes("MUNGE:forged:\0")))
            {
                await IoFrameWriter.WriteOutputAsync(stranger, IoStreamType.Stdout, "injected\n"u8.ToArray());
            }
            await using var io = await ports.ConnectIoAsync(stdout: 1, stderr: 1);
            await IoFrameWriter.WriteOutputAsync(io, IoStreamType.Stdout, "genuine\n"u8.ToArray());
            await IoFrameWriter.WriteOutputEndAsync(io, IoStreamType.Stdout);
            await IoFrameWriter.WriteOutputEndAsync(io, IoStreamType.Stderr);
            await ports.ReportAsync(new TaskExitMessage(0, [0], Step(launch)));
        });
        var streams = Streams();
        var log = new List<string>();

        await using var session = await StepSession.LaunchAsync(controller, Request(), streams, log.Add);

        Assert.Equal(0, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("genuine\n", Encoding.ASCII.GetString(((MemoryStream)streams.Output).ToArray()));
        Assert.Contains(log, l => l.Contains("refused an I/O connection", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_step_whose_io_breaks_off_and_never_reports_its_exit_is_lost()
    {
        var controller = Cluster(stepd: async (launch, ports) =>
        {
            await using var io = await ports.ConnectIoAsync(stdout: 1, stderr: 1);
            await IoFrameWriter.WriteOutputAsync(io, IoStreamType.Stdout, "partial"u8.ToArray());
        });
        var streams = Streams();

        await using var session = await StepSession.LaunchAsync(controller, Request() with { LostStepGrace = TimeSpan.FromMilliseconds(200) }, streams);

        Assert.Equal(1, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("partial", Encoding.ASCII.GetString(((MemoryStream)streams.Output).ToArray()));
        Assert.Contains("lost step", Encoding.ASCII.GetString(((MemoryStream)streams.Error).ToArray()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_step_given_up_ends_at_once_as_lost()
    {
        var stepdStarted = new TaskCompletionSource();
        var controller = Cluster(stepd: async (launch, ports) =>
        {
            await using var io = await ports.ConnectIoAsync(stdout: 1, stderr: 1);
            stepdStarted.SetResult();
            await Task.Delay(Timeout.Infinite, _testEnded.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // a node that went silent
        });
        var streams = Streams();
        await using var session = await StepSession.LaunchAsync(controller, Request(), streams);
        await stepdStarted.Task;

        session.GiveUp("node(s) n1 failed");

        Assert.Equal(1, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("lost step 7.", Encoding.ASCII.GetString(((MemoryStream)streams.Error).ToArray()), StringComparison.Ordinal);
        Assert.Contains("node(s) n1 failed", Encoding.ASCII.GetString(((MemoryStream)streams.Error).ToArray()), StringComparison.Ordinal);
    }

    /// <summary>MUNGE down on the node: slurmstepd cannot sign the exit message, the output still ends; the nodes' own report of the exit stands.</summary>
    [Fact]
    public async Task A_step_whose_exit_message_is_lost_ends_with_the_exit_its_nodes_reported()
    {
        var outputEnded = new TaskCompletionSource();
        var controller = Cluster(stepd: async (launch, ports) =>
        {
            await using var io = await ports.ConnectIoAsync(stdout: 1, stderr: 1);
            await IoFrameWriter.WriteOutputAsync(io, IoStreamType.Stdout, "bye\n"u8.ToArray());
            await IoFrameWriter.WriteOutputEndAsync(io, IoStreamType.Stdout);
            await IoFrameWriter.WriteOutputEndAsync(io, IoStreamType.Stderr);
            outputEnded.SetResult();
            await Task.Delay(Timeout.Infinite, _testEnded.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        });
        var streams = Streams();
        await using var session = await StepSession.LaunchAsync(controller, Request(), streams);
        await outputEnded.Task;

        session.Conclude(7);

        Assert.Equal(7, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("bye\n", Encoding.ASCII.GetString(((MemoryStream)streams.Output).ToArray()));
        Assert.Equal("", Encoding.ASCII.GetString(((MemoryStream)streams.Error).ToArray()));
    }

    [Fact]
    public async Task A_conclusion_after_slurms_exit_message_changes_nothing()
    {
        var controller = Cluster(stepd: (launch, ports) => ExitAsync(launch, ports, 0x0300));
        await using var session = await StepSession.LaunchAsync(controller, Request(), Streams());
        Assert.Equal(3, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));

        session.Conclude(7);

        Assert.Equal(3, await session.Completion);
    }

    [Fact]
    public async Task A_launched_step_whose_io_never_connects_is_lost_with_the_reason()
    {
        var controller = Cluster(stepd: (launch, ports) => Task.CompletedTask); // slurmstepd cannot reach us
        var streams = Streams();

        await using var session = await StepSession.LaunchAsync(controller, Request() with { LostStepGrace = TimeSpan.FromMilliseconds(300) }, streams);

        Assert.Equal(1, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("1 node(s) never connected their I/O to this host", Encoding.ASCII.GetString(((MemoryStream)streams.Error).ToArray()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x0009u, 137)]
    [InlineData(TaskExitMessage.OutOfMemory, 137)]
    [InlineData(0x2a00u, 42)]
    public async Task The_tasks_wait_status_is_the_exit_code(uint status, int exitCode)
    {
        var controller = Cluster(stepd: (launch, ports) => ExitAsync(launch, ports, status));

        await using var session = await StepSession.LaunchAsync(controller, Request(), Streams());

        Assert.Equal(exitCode, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task A_task_that_cannot_start_ends_the_step_with_slurmds_reason()
    {
        var controller = Cluster(stepd: async (launch, ports) =>
        {
            await ports.ReportAsync(new LaunchTasksResponse(Step(launch), 4019, "n1", [], [0]));
        });
        var streams = Streams();

        await using var session = await StepSession.LaunchAsync(controller, Request() with { LostStepGrace = TimeSpan.FromMilliseconds(100) }, streams);

        Assert.Equal(1, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("Slurmd could not fork job", Encoding.ASCII.GetString(((MemoryStream)streams.Error).ToArray()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_terminal_gets_its_size_at_launch_a_resize_made_before_the_node_connects_and_each_later_one()
    {
        var sizes = new List<byte[]>();
        var resizedEarly = new TaskCompletionSource();
        var firstSizeRead = new TaskCompletionSource();
        var resizedAgain = new TaskCompletionSource();
        var controller = Cluster(stepd: async (launch, ports) =>
        {
            var ptyPort = int.Parse(launch.Environment.Single(e => e.StartsWith("SLURM_PTY_PORT=", StringComparison.Ordinal))[15..], System.Globalization.CultureInfo.InvariantCulture);
            await resizedEarly.Task; // Docker resizes right after start, before slurmstepd connects
            using var pty = new TcpClient();
            await pty.ConnectAsync("127.0.0.1", ptyPort);
            var buffer = new byte[4];
            await pty.GetStream().ReadExactlyAsync(buffer);
            sizes.Add(buffer.ToArray());
            firstSizeRead.SetResult();
            await resizedAgain.Task;
            await pty.GetStream().ReadExactlyAsync(buffer);
            sizes.Add(buffer.ToArray());
            await using var io = await ports.ConnectIoAsync(stdout: 1, stderr: 0);
            await IoFrameWriter.WriteOutputEndAsync(io, IoStreamType.Stdout);
            await ports.ReportAsync(new TaskExitMessage(0, [0], Step(launch)));
        });

        await using var session = await StepSession.LaunchAsync(controller, Request() with { Terminal = new WindowSize(77, 22) }, Streams());
        session.Resize(new WindowSize(90, 30));
        resizedEarly.SetResult();
        await firstSizeRead.Task.WaitAsync(TimeSpan.FromSeconds(60));
        session.Resize(new WindowSize(100, 40));
        resizedAgain.SetResult();

        Assert.Equal(0, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal([Convert.FromHexString("005a001e"), Convert.FromHexString("00640028")], sizes);
        var launch = LaunchReceived();
        Assert.Equal(LaunchTasksRequest.PseudoTerminal, launch.Flags);
        Assert.Contains("SLURM_PTY_WIN_COL=77", launch.Environment);
        Assert.Contains("SLURM_PTY_WIN_ROW=22", launch.Environment);
    }

    // ------------------------------------------------------------------ the fake cluster

    private delegate Task Stepd(LaunchTasksRequest launch, StepdPorts ports);

    private SlurmController Cluster(Stepd? stepd = null, FakeReply? launchReply = null, Func<FakeReply>? createReply = null, int? slurmdPort = null, string nodeName = "n1")
    {
        _slurmctld = new FakeSlurmctld(message => message.Type switch
        {
            MessageType.RequestJobStepCreate => createReply?.Invoke() ?? new FakeReply.Bytes(FakeSlurmctld.Frame(s_version, _created)),
            _ => FakeReply.ReturnCode(s_version, 0),
        });
        _slurmd = new FakeSlurmctld(message =>
        {
            if (message.Type != MessageType.RequestLaunchTasks)
            {
                return FakeReply.ReturnCode(s_version, SlurmErrors.UnexpectedMessage);
            }
            if (launchReply is not null)
            {
                return launchReply;
            }
            var launch = DecodeLaunch(message);
            lock (_stepds)
            {
                _stepds.Add(Task.Run(() => (stepd ?? ((l, p) => ExitAsync(l, p, 0)))(launch, new StepdPorts(launch, _created.IoKey))));
            }
            return new FakeReply.Bytes(FakeSlurmctld.Frame(s_version, new ReturnCode(0, null)));
        });
        var config = SlurmConfig.Parse(
            $"SlurmctldHost=ctl(127.0.0.1)\nSlurmctldPort={_slurmctld.Port}\nMessageTimeout=15\nNodeName={nodeName} NodeAddr=127.0.0.1 Port={slurmdPort ?? _slurmd.Port} CPUs=2\n",
            "fake/slurm.conf");
        return new SlurmController(config, new StubAuthenticator(), s_version);
    }

    private static async Task ExitAsync(LaunchTasksRequest launch, StepdPorts ports, uint status)
    {
        await using var io = await ports.ConnectIoAsync(stdout: 1, stderr: 1);
        await IoFrameWriter.WriteOutputEndAsync(io, IoStreamType.Stdout);
        await IoFrameWriter.WriteOutputEndAsync(io, IoStreamType.Stderr);
        await ports.ReportAsync(new TaskExitMessage(status, [0], Step(launch)));
    }

    private static async Task<byte[]> ReadStdinAsync(Stream io)
    {
        var reader = new IoFrameReader(io);
        var input = new MemoryStream();
        while (await reader.ReadAsync() is { } frame && !frame.IsEndOfStream)
        {
            Assert.Equal(IoStreamType.AllStdin, frame.Type);
            Assert.True(frame.Payload.Length <= IoHeader.MaxPayload);
            input.Write(frame.Payload.Span);
        }
        return input.ToArray();
    }

    private static StepId Step(LaunchTasksRequest launch) => new(launch.JobId, launch.StepNumber);

    /// <summary>What slurmstepd does with the ports of a launch: connects stdio with the key, reports on the response port.</summary>
    private sealed class StepdPorts(LaunchTasksRequest launch, byte[] key)
    {
        private readonly byte[] _key = key;

        public async Task<NetworkStream> ConnectIoAsync(uint stdout, uint stderr, byte[]? key = null)
        {
            var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", launch.IoPorts[0]);
            var stream = client.GetStream();
            await stream.WriteAsync(new IoInitMessage(s_version, 0, stdout, stderr, key ?? _key).Encode());
            return stream;
        }

        public async Task ReportAsync(ISlurmRequest message)
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", launch.ResponsePorts[0]);
            var stream = client.GetStream();
            await stream.WriteAsync(FakeSlurmctld.Frame(s_version, message));
            var prefix = new byte[4];
            await stream.ReadExactlyAsync(prefix);
            var frame = new byte[SlurmFrame.ReadLengthPrefix(prefix)];
            await stream.ReadExactlyAsync(frame);
            Assert.Equal(MessageType.ResponseSlurmRc, SlurmFrame.Decode(frame).Type);
        }
    }

    private StepRequest Request() => new()
    {
        JobId = 7,
        NodeCount = 1,
        UserId = 1901,
        GroupId = 1902,
        Name = "scrun",
        Container = "/srv/bundle",
        ContainerId = "c1",
        Arguments = ["sh", "-c", "echo hello"],
        Environment = ["CONTAINER_VAR=1"],
        Allocation = new JobAllocation { NodeList = "n1", Partition = "debug", CpusPerNode = [1], CpuCountRepetitions = [1] },
        Launcher = new LauncherProcess(new Dictionary<string, ulong> { ["NOFILE"] = 1024 }, 0x12, 0),
        WorkingDirectory = "/srv/bundle",
    };

    private static StepStreams Streams() => new(null, new MemoryStream(), new MemoryStream());

    private LaunchTasksRequest LaunchReceived() => DecodeLaunch(_slurmd!.Received.Single(m => m.Type == MessageType.RequestLaunchTasks));

    private LaunchTasksRequest DecodeLaunch(SlurmMessage message)
    {
        var reader = new SlurmReader(message.Body);
        var launch = LaunchTasksRequest.ReadBody(ref reader, message.Version, _created.Credential.Length);
        reader.EnsureConsumed("launch");
        return launch;
    }

    private delegate T BodyReader<T>(ref SlurmReader reader, ProtocolVersion version);

    private static T Decode<T>(SlurmMessage message, BodyReader<T> read)
    {
        var reader = new SlurmReader(message.Body);
        var decoded = read(ref reader, message.Version);
        reader.EnsureConsumed(message.Type.ToString());
        return decoded;
    }

    private static int ClosedPort()
    {
        using var socket = new TcpListener(System.Net.IPAddress.Loopback, 0);
        socket.Start();
        return ((System.Net.IPEndPoint)socket.LocalEndpoint).Port;
    }

    private static JobStepCreateResponse CapturedStepCreated()
    {
        var message = SlurmFrame.Decode(CapturedSteps.Single("2205", "5001-5002-step_create", "in_frame").AsSpan(SlurmFrame.LengthPrefixSize));
        var reader = new SlurmReader(message.Body);
        return JobStepCreateResponse.ReadBody(ref reader, message.Version);
    }
}
