using System.Text.Json;
using Scrun.Containers;
using Scrun.Containers.Anchor;
using Scrun.Containers.Control;
using Scrun.Containers.Interop;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;
using Scrun.Tests.Slurm;
using Serilog;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>
/// The anchor's life without the bed: its job from the in-process fake slurmctld, its step from
/// a fake runner, its socket, state.json and creation report real. Each test drives it as the
/// CLI would and reads what it asked of Slurm. As root its staging bind-mounts the image's rootfs,
/// and every test ends with the anchor ended and no mount left behind.
/// </summary>
public sealed class ContainerAnchorTests : IAsyncLifetime // xunit 2 never calls IAsyncDisposable
{
    private const uint Job = 7;
    private static readonly ProtocolVersion s_version = ProtocolVersion.V22_05;

    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-anchor-").FullName;
    private readonly FakeSlurmctld _slurmctld;
    private readonly FakeStepLauncher _steps = new();
    private readonly FakeNodeCommands _nodeCommands = new();
    private readonly StringWriter _stderr = new();
    private readonly LogLines _log = new();
    private readonly ManualResetEventSlim _answerAllocation = new(initialState: true);
    private readonly TaskCompletionSource _allocationAsked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ContainerPaths _paths;
    private readonly string _pidFile;
    private readonly ContainerClaim _claim;
    private readonly int _reportRead;
    private readonly LaunchContext _launch;
    private readonly Dictionary<string, string> _environment;
    private readonly ILogger _logger;
    private ContainerAnchor? _container;
    private Task<int>? _running;

    public ContainerAnchorTests()
    {
        _slurmctld = new FakeSlurmctld(Answer);
        var rootfs = Directory.CreateDirectory(Path.Combine(_directory, "image", "rootfs")).FullName;
        var bundle = Path.GetDirectoryName(rootfs)!;
        var shell = Path.Combine(Directory.CreateDirectory(Path.Combine(rootfs, "bin")).FullName, "sh");
        File.WriteAllText(shell, "");
        File.SetUnixFileMode(shell, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(bundle, "config.json"),
            """{"ociVersion":"1.0.2","process":{"args":["sh","-c","exit 3"],"env":["SCRUN_QUIET=1"],"cwd":"/"},"root":{"path":"rootfs"}}""");
        var conf = Path.Combine(_directory, "slurm.conf");
        File.WriteAllText(conf, $"ClusterName=fake\nSlurmctldHost=fake(127.0.0.1)\nSlurmctldPort={_slurmctld.Port}\n");
        File.WriteAllText(Path.Combine(_directory, "oci.conf"), "RunTimeQuery=\"runc --root=/r state %n.%u.%j.%s.%t\"\n");
        _paths = new ContainerPaths(Path.Combine(_directory, "root"), ContainerId.Parse("c1"));
        Directory.CreateDirectory(_paths.Root);
        _pidFile = Path.Combine(Directory.CreateDirectory(Path.Combine(_directory, "run")).FullName, "c1.pid");
        _claim = ContainerClaim.TryTake(_paths)!;
        (_reportRead, var reportWrite) = Scrun.Containers.Interop.LibC.Pipe();
        _launch = new LaunchContext
        {
            Root = _paths.Root,
            Id = "c1",
            Bundle = bundle,
            PidFile = _pidFile,
            ReportDescriptor = reportWrite,
            ClaimDescriptor = _claim.Descriptor,
        };
        _environment = new Dictionary<string, string>
        {
            ["SLURM_CONF"] = conf,
            ["SLURM_JWT"] = "test-token", // the fake does not check credentials: no munged needed
            ["SCRUN_SLURM_PROTOCOL"] = "22.05",
        };
        _logger = new LoggerConfiguration().MinimumLevel.Debug().WriteTo.Sink(_log).CreateLogger();
    }

    /// <summary>The anchor, with the plan create would make of the files as the test left them.</summary>
    private ContainerAnchor Container => _container ??= new ContainerAnchor(
        ContainerPlan.Resolve(_launch, _environment.GetValueOrDefault, _environment), _launch, _environment["SLURM_JWT"], _logger, _stderr, _ => _steps,
        nodeLauncher: (_, _) => _nodeCommands);

    /// <summary>The anchor's run (started by the first test step that needs it).</summary>
    private Task<int> Anchor => _running ??= Task.Run(Container.RunAsync);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            _answerAllocation.Set();
            _steps.Exit(0);
            if (_running is not null)
            {
                await AnchorClient.SendAsync(_paths, new ControlRequest { Op = ControlOperation.Delete, Force = true });
                await _running.WaitAsync(TimeSpan.FromSeconds(30));
                Assert.Empty(Mounts.Under(_paths.Directory)); // the anchor's, not the cleanup's below
            }
        }
        finally
        {
            _claim.Dispose();
            try
            {
                await _slurmctld.DisposeAsync();
            }
            finally
            {
                FileTree.Remove(_directory);
            }
        }
    }

    [Fact]
    public async Task A_container_is_created_started_and_stopped_with_its_steps_exit_code_and_its_job_completed()
    {
        Assert.True((await Report()).Ok);
        Assert.Equal(ContainerStatus.Created, Stored().Status);
        Assert.Equal(Job, Stored().JobId);

        Assert.True((await Send("start")).Ok);
        Assert.Equal(ContainerStatus.Running, Stored().Status);
        Assert.Equal(["/bin/sh", "-c", "exit 3"], _steps.Launched!.Args); // resolved in the image, as the node runs it
        Assert.Equal(Job, _steps.Launched.JobId);
        Assert.Equal("c1", _steps.Launched.Environment["SCRUN_CONTAINER_ID"]);
        // 22.05's allocation does not name the owner, and this process's uid may be a user
        // namespace's: the step is made for the owner the job's record names.
        Assert.Equal((RecordOwner, RecordOwner), (_steps.Launched.Placement!.UserId, _steps.Launched.Placement.GroupId));
        _steps.Exit(3);

        Assert.Equal(3, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(ContainerStatus.Stopped, Stored().Status);
        Assert.True(Stored().JobReleased);
        var complete = Single(MessageType.RequestCompleteJobAllocation);
        var reader = new SlurmReader(complete.Body);
        Assert.Equal(Job, reader.ReadU32());
        Assert.Equal(3u << 8, reader.ReadU32()); // a wait status, as salloc reports it
    }

    [Fact]
    public async Task A_second_start_is_refused_and_launches_nothing()
    {
        await Report();
        Assert.True((await Send("start")).Ok);
        var again = await Send("start");
        Assert.Equal("cannot start container \"c1\": it is already running", again.Error);
        Assert.Equal(1, _steps.Starts);
    }

    [Fact]
    public async Task Killing_a_running_container_signals_its_step_through_slurmctld()
    {
        await Report();
        await Send("start");
        Assert.True((await Send("kill", signal: 10)).Ok);
        var kill = Single(MessageType.RequestCancelJobStep);
        Assert.Contains(10, KillSignals(kill));
        var reader = new SlurmReader(kill.Body);
        Assert.Equal(FakeStepLauncher.StepNumber, JobStepKillRequest.ReadBody(ref reader, s_version).Step.StepNumber); // the step the launcher made, not 0
    }

    /// <summary>pause and resume run the node runtime's verb on the container (its id from RunTimeQuery, its step the launcher's) and change the status only once it has.</summary>
    [Fact]
    public async Task Pause_and_resume_run_the_nodes_runtime_and_change_the_status()
    {
        await Report();
        await Send("start");
        Assert.True((await Send("pause")).Ok);
        Assert.Equal(ContainerStatus.Paused, Stored().Status);
        // %u is the job owner's name (the job record's uid), %s the step the launcher made.
        Assert.Matches($@"(?m)^ *exec runc --root=/r pause 'n1\.[^.]+\.{Job}\.{FakeStepLauncher.StepNumber}\.0'$", _nodeCommands.Commands.Single().Arguments[2]);
        Assert.Equal("scrun-pause", _nodeCommands.Commands.Single().Name);
        Assert.Contains("container not running (paused)", (await Send("pause")).Error);
        Assert.True((await Send("resume")).Ok);
        Assert.Equal(ContainerStatus.Running, Stored().Status);
        Assert.Contains(" resume ", _nodeCommands.Commands[^1].Arguments[2]);
        Assert.Contains("container not paused (running)", (await Send("resume")).Error);
    }

    /// <summary>A freeze the node refuses is the runtime's error line, and the container stays running.</summary>
    [Fact]
    public async Task A_pause_the_node_refuses_is_its_error_and_changes_nothing()
    {
        await Report();
        await Send("start");
        _nodeCommands.Fail("time=\"x\" level=error msg=\"cannot toggle freezer: cgroups not configured for container\"\n");
        var pause = await Send("pause");
        Assert.False(pause.Ok);
        Assert.StartsWith("cannot pause container \"c1\": cannot toggle freezer: cgroups not configured for container (the node cannot freeze", pause.Error);
        Assert.Equal(ContainerStatus.Running, Stored().Status);
    }

    /// <summary>A paused container is thawed before a signal reaches it (frozen processes would keep it pending).</summary>
    [Fact]
    public async Task A_kill_of_a_paused_container_thaws_it_first()
    {
        await Report();
        await Send("start");
        await Send("pause");
        Assert.True((await Send("kill", signal: 10)).Ok);
        Assert.Contains(" resume ", _nodeCommands.Commands[^1].Arguments[2]);
        Assert.Equal(ContainerStatus.Running, Stored().Status);
        Assert.Contains(10, KillSignals(Single(MessageType.RequestCancelJobStep)));
    }

    /// <summary>A KILL the node loses (its runtime had not made the container yet) is sent again until the container stops.</summary>
    [Fact]
    public async Task A_kill_that_does_not_end_the_container_is_sent_again()
    {
        await Report();
        await Send("start");
        Assert.True((await Send("kill", signal: 9)).Ok);
        for (var deadline = DateTime.UtcNow.AddSeconds(30); _slurmctld.Received.Count(r => r.Type == MessageType.RequestCancelJobStep) < 2; await Task.Delay(20))
        {
            Assert.True(DateTime.UtcNow < deadline, "the KILL was not sent again");
        }
        _steps.Exit(137);
        Assert.Equal(137, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_created_container_that_is_deleted_ends_with_its_job_cancelled()
    {
        await Report();
        Assert.True((await Send("delete")).Ok);

        Assert.Equal(137, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(9, KillSignals(Single(MessageType.RequestKillJob)));
        Assert.DoesNotContain(_slurmctld.Received, r => r.Type == MessageType.RequestCompleteJobAllocation);
        Assert.Equal(0, _steps.Starts);
    }

    [Theory]
    [InlineData(15)]
    [InlineData(2)]
    [InlineData(1)]
    public async Task A_signal_to_the_anchor_of_a_created_container_ends_it_as_kill_would(int signal)
    {
        await Report();
        await Container.SignalAsync(new Signal(signal));

        Assert.Equal(128 + signal, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(9, KillSignals(Single(MessageType.RequestKillJob)));
    }

    [Fact]
    public async Task A_start_whose_state_cannot_be_recorded_is_refused_and_the_container_stays_created()
    {
        await Report();
        var recorded = File.ReadAllText(_paths.StateFile);
        File.Delete(_paths.StateFile);
        Directory.CreateDirectory(_paths.StateFile); // the next state.json cannot be written: a directory has its name

        var start = await Send("start");

        Assert.False(start.Ok);
        Assert.StartsWith("cannot record the state of container \"c1\"", start.Error);
        Assert.Equal(ContainerStatus.Created, (await Send("state")).State!.Status);
        Assert.Equal(0, _steps.Starts);
        Directory.Delete(_paths.StateFile);
        File.WriteAllText(_paths.StateFile, recorded);
        Assert.True((await Send("start")).Ok);
        Assert.Equal(1, _steps.Starts);
    }

    [Fact]
    public async Task Start_while_the_job_is_asked_for_is_refused_and_delete_leaves_no_job()
    {
        _answerAllocation.Reset(); // slurmctld does not answer the allocation yet
        _ = Anchor;
        await _allocationAsked.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("cannot start container \"c1\": it is still being created", (await Send("start")).Error);
        var delete = Send("delete", force: true);
        await _log.Seen("ends before starting");
        _answerAllocation.Set(); // the job exists: slurmctld's answer names it

        Assert.True((await delete).Ok);
        Assert.Equal("the container was stopped before its job started", (await Report()).Error);
        Assert.Equal(1, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(9, KillSignals(Single(MessageType.RequestKillJob)));
        Assert.False(Directory.Exists(_paths.Directory));
    }

    [Fact]
    public async Task When_create_goes_away_before_the_report_the_container_is_abandoned_and_its_job_cancelled()
    {
        _answerAllocation.Reset();
        _ = Anchor;
        await _allocationAsked.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Scrun.Containers.Interop.LibC.close(_reportRead); // create was killed
        _answerAllocation.Set();

        Assert.Equal(1, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(9, KillSignals(Single(MessageType.RequestKillJob)));
        Assert.False(Directory.Exists(_paths.Directory));
    }

    /// <summary>The pid file is written after stage-in has bind-mounted the rootfs: a creation that fails there unmounts it before create returns.</summary>
    [Fact]
    public async Task A_creation_that_fails_after_stage_in_leaves_no_mount_and_no_job()
    {
        Directory.Delete(Path.GetDirectoryName(_pidFile)!);

        Assert.StartsWith($"cannot write {_pidFile}", (await Report()).Error);
        Assert.Empty(Mounts.Under(_directory));
        Assert.False(Directory.Exists(_paths.Directory));
        Assert.Contains(9, KillSignals(Single(MessageType.RequestKillJob)));
        Assert.Equal(1, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    private FakeReply Answer(SlurmMessage request)
    {
        switch (request.Type)
        {
            case MessageType.RequestResourceAllocation:
                _allocationAsked.TrySetResult();
                _answerAllocation.Wait();
                var body = new SlurmWriter();
                new ResourceAllocationResponse { JobId = Job, NodeCount = 1, NodeList = "n1" }.WriteBody(body, s_version);
                return new FakeReply.Bytes(SlurmFrame.Encode(s_version, MessageType.ResponseResourceAllocation, body.WrittenSpan, new MungeCredentialText("MUNGE:fake:")));
            case MessageType.RequestJobReady:
                return new FakeReply.Bytes(FakeSlurmctld.Frame(s_version, new JobReadyResponse(JobReadyResponse.NodesReady | JobReadyResponse.JobReady)));
            case MessageType.RequestJobInfoSingle: // 22.05's allocation does not name the owner: the job's record does
                return new FakeReply.Bytes(JobRecordOwnedBy(RecordOwner));
            case MessageType.RequestCompleteJobAllocation or MessageType.RequestKillJob:
                TellJobComplete();
                return FakeReply.ReturnCode(s_version, 0);
            default:
                return FakeReply.ReturnCode(s_version, 0);
        }
    }

    private const uint RecordOwner = 1001;

    /// <summary>A captured 22.05 job record whose user_id and group_id (the two u32 after job_id) are <paramref name="owner"/>.</summary>
    private static byte[] JobRecordOwnedBy(uint owner)
    {
        var frame = CapturedFrames.Frame("2205", CapturedFrames.Nth("2205", "request_job_info_single", 1, ".resp"));
        var body = frame.AsSpan(frame.Length - SlurmFrame.Decode(frame.AsSpan(SlurmFrame.LengthPrefixSize)).Body.Length);
        var reader = new SlurmReader(body.ToArray());
        var captured = JobInfoResponse.ReadBody(ref reader, s_version).Job!;
        Span<byte> ids = stackalloc byte[12]; // job_id, user_id, group_id as captured
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ids, captured.JobId);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ids[4..], captured.UserId);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ids[8..], captured.GroupId);
        var at = body.IndexOf(ids) + 4;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(body[at..], owner);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(body[(at + 4)..], owner);
        reader = new SlurmReader(body.ToArray());
        var patched = JobInfoResponse.ReadBody(ref reader, s_version).Job!;
        Assert.Equal((captured.JobId, owner, owner), (patched.JobId, patched.UserId, patched.GroupId));
        return frame;
    }

    /// <summary>As slurmctld does when a job ends: SRUN_JOB_COMPLETE to the allocation's other_port.</summary>
    private void TellJobComplete()
    {
        SlurmMessage allocation;
        lock (_slurmctld.Received)
        {
            allocation = _slurmctld.Received.First(r => r.Type == MessageType.RequestResourceAllocation);
        }
        var reader = new SlurmReader(allocation.Body);
        var port = JobDescriptor.Read(ref reader, s_version).OtherPort;
        var body = new SlurmWriter();
        new SrunJobComplete(StepId.WholeJob(Job)).Write(body, s_version);
        using var client = new System.Net.Sockets.TcpClient("127.0.0.1", port);
        client.GetStream().Write(SlurmFrame.Encode(s_version, MessageType.SrunJobComplete, body.WrittenSpan, new MungeCredentialText("MUNGE:fake:")));
    }

    private async Task<ControlResponse> Report()
    {
        _ = Anchor;
        var report = await CreationReport.ReadAsync(_reportRead, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        return report ?? throw new InvalidOperationException("the anchor ended without a report");
    }

    private async Task<ControlResponse> Send(string op, int signal = 15, bool force = false) =>
        await AnchorClient.SendAsync(_paths, new ControlRequest { Op = Enum.Parse<ControlOperation>(op, ignoreCase: true), Signal = new Signal(signal), Force = force }).WaitAsync(TimeSpan.FromSeconds(30))
        ?? throw new InvalidOperationException("the anchor did not answer");

    private ContainerState Stored() =>
        JsonSerializer.Deserialize<ContainerState>(File.ReadAllText(_paths.StateFile), new JsonSerializerOptions { PropertyNameCaseInsensitive = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } })!;

    private SlurmMessage Single(MessageType type)
    {
        lock (_slurmctld.Received)
        {
            return Assert.Single(_slurmctld.Received, r => r.Type == type);
        }
    }

    private static IEnumerable<int> KillSignals(SlurmMessage kill)
    {
        var reader = new SlurmReader(kill.Body);
        var request = JobStepKillRequest.ReadBody(ref reader, s_version);
        // REQUEST_KILL_JOB names the job as text (as scancel does), REQUEST_CANCEL_JOB_STEP by its step id.
        Assert.Equal(Job.ToString(System.Globalization.CultureInfo.InvariantCulture), request.JobIdText ?? request.Step.JobId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return [request.Signal.Number];
    }

    [Fact]
    public async Task With_node_run_on_the_nodes_start_returns_only_once_the_containers_process_runs_there()
    {
        await using var node = await StartWithNodeRunAsync();
        var start = node.Start;
        Assert.Equal(ContainerStatus.Starting, (await Send("state")).State!.Status);
        Assert.False(start.IsCompleted);

        await node.SayAsync("running 4242");
        Assert.True((await start).Ok);
        Assert.Equal(ContainerStatus.Running, Stored().Status);
        Assert.Equal("ok", await node.HearAsync()); // node-run may end its task now
    }

    [Fact]
    public async Task With_node_run_a_signal_reaches_the_nodes_process_and_slurmctld_hears_of_none()
    {
        await using var node = await StartWithNodeRunAsync();
        var start = node.Start;
        await node.SayAsync("running 4242");
        Assert.True((await start).Ok);
        Assert.Equal("ok", await node.HearAsync());

        Assert.True((await Send("kill", signal: 15)).Ok);
        Assert.Equal("signal 15", await node.HearAsync());
        Assert.True((await Send("kill", signal: 8)).Ok);
        Assert.Equal("signal 8", await node.HearAsync());
        _steps.Exit(0);
        Assert.Equal(0, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
        lock (_slurmctld.Received)
        {
            Assert.DoesNotContain(_slurmctld.Received, r => r.Type is MessageType.RequestCancelJobStep or MessageType.RequestKillJob);
        }
        Assert.Null(await node.HearAsync()); // the anchor closed the connection as it ended
    }

    [Fact]
    public async Task With_node_run_a_runtime_error_on_the_node_fails_start_with_its_line()
    {
        await using var node = await StartWithNodeRunAsync();
        var start = node.Start;
        await node.SayAsync("failed 1 runc run failed: sysctl \"kernel.bogus\" is not in a separate kernel namespace");

        var answer = await start;
        Assert.False(answer.Ok);
        Assert.Equal("the container could not start on its node: runc run failed: sysctl \"kernel.bogus\" is not in a separate kernel namespace", answer.Error);
        Assert.Equal("ok", await node.HearAsync());
        _steps.Exit(1);
        Assert.Equal(1, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(ContainerStatus.Stopped, Stored().Status);
    }

    [Fact]
    public async Task With_node_run_a_step_that_ends_before_any_node_reports_fails_start()
    {
        RunNodeRunOnTheNodes();
        await Report();
        var start = Send("start");
        await _steps.WhenLaunched.WaitAsync(TimeSpan.FromSeconds(30));
        _steps.Exit(127); // e.g. the node has no scrun: sh says "not found"

        var answer = await start;
        Assert.Equal("the container's step ended (exit code 127) before scrun node-run reported from its node", answer.Error);
        Assert.Equal(127, await Anchor.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Without_node_run_in_oci_conf_the_step_gets_no_control_variable()
    {
        await Report();
        Assert.True((await Send("start")).Ok);
        Assert.False(_steps.Launched!.Environment.ContainsKey("SCRUN_NODE_CONTROL"));
    }

    /// <summary>Creates the container with node-run in oci.conf, asks for start, and plays its node up to hello.</summary>
    private async Task<FakeNode> StartWithNodeRunAsync()
    {
        RunNodeRunOnTheNodes();
        await Report();
        var start = Send("start");
        var node = await FakeNode.ConnectAsync(await _steps.WhenLaunched.WaitAsync(TimeSpan.FromSeconds(30)), start);
        await node.SayAsync("hello " + node.Token);
        return node;
    }

    private void RunNodeRunOnTheNodes() =>
        File.WriteAllText(Path.Combine(_directory, "oci.conf"),
            "RunTimeRun=\"exec /usr/local/bin/scrun node-run -- /usr/sbin/runc --root=/run/x run --bundle %b %n.%u.%j.%s.%t\"\n");

    /// <summary>What <c>scrun node-run</c> says and hears, played by the test over the port and secret the step was given.</summary>
    private sealed class FakeNode(System.Net.Sockets.TcpClient client, string token, Task<ControlResponse> start) : IAsyncDisposable
    {
        private readonly StreamReader _reader = new(client.GetStream());
        private readonly StreamWriter _writer = new(client.GetStream()) { AutoFlush = true, NewLine = "\n" };

        public string Token => token;

        /// <summary>The start the node answers.</summary>
        public Task<ControlResponse> Start => start;

        public static async Task<FakeNode> ConnectAsync(StepLaunch launch, Task<ControlResponse> start)
        {
            var value = launch.Environment["SCRUN_NODE_CONTROL"];
            var colon = value.IndexOf(':');
            var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync(System.Net.IPAddress.Loopback, int.Parse(value[..colon], System.Globalization.CultureInfo.InvariantCulture));
            return new FakeNode(client, value[(colon + 1)..], start);
        }

        public Task SayAsync(string line) => _writer.WriteLineAsync(line);

        public async Task<string?> HearAsync() => await _reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));

        public ValueTask DisposeAsync()
        {
            client.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The anchor's log lines, for a test to wait on what the anchor has done.</summary>
    private sealed class LogLines : Serilog.Core.ILogEventSink
    {
        private readonly List<string> _lines = [];

        public void Emit(Serilog.Events.LogEvent logEvent)
        {
            lock (_lines)
            {
                _lines.Add(logEvent.RenderMessage(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        public async Task Seen(string text)
        {
            for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(10))
            {
                lock (_lines)
                {
                    if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
                    {
                        return;
                    }
                }
            }
            Assert.Fail($"the anchor never logged '{text}'");
        }
    }

    /// <summary>The node's runtime: records each command, and exits 0 or fails with the output the test set.</summary>
    private sealed class FakeNodeCommands : Scrun.Containers.NodeCommands.INodeCommandLauncher
    {
        private string? _failure;

        public List<Scrun.Containers.NodeCommands.NodeCommand> Commands { get; } = [];

        public void Fail(string output) => _failure = output;

        public Task<Scrun.Containers.NodeCommands.INodeTask> StartAsync(Scrun.Containers.NodeCommands.NodeCommand command, Scrun.Containers.NodeCommands.NodeTaskStdio stdio, CancellationToken cancellation)
        {
            lock (Commands)
            {
                Commands.Add(command);
            }
            if (_failure is { } failure)
            {
                using var output = new Scrun.Containers.Interop.DescriptorStream(stdio.Output);
                output.Write(System.Text.Encoding.UTF8.GetBytes(failure));
            }
            stdio.Close();
            return Task.FromResult<Scrun.Containers.NodeCommands.INodeTask>(new Ended(_failure is null ? 0 : 1));
        }

        private sealed class Ended(int exitCode) : Scrun.Containers.NodeCommands.INodeTask
        {
            public Task<int> Completion { get; } = Task.FromResult(exitCode);

            public Task SignalAsync(Signal signal) => Task.CompletedTask;

            public void Resized()
            {
            }

            public void Dispose()
            {
            }
        }
    }

    /// <summary>A step that ends when the test says.</summary>
    private sealed class FakeStepLauncher : IStepLauncher
    {
        public const uint StepNumber = 4;

        private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<StepLaunch> _launched = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public StepLaunch? Launched { get; private set; }

        public Task<StepLaunch> WhenLaunched => _launched.Task;

        public int Starts { get; private set; }

        public void Exit(int code) => _exit.TrySetResult(code);

        public Task<IStep> StartAsync(StepLaunch launch, CancellationToken cancellation)
        {
            Launched = launch;
            Starts++;
            _launched.TrySetResult(launch);
            return Task.FromResult<IStep>(new Step(this));
        }

        private sealed class Step(FakeStepLauncher runner) : IStep
        {
            public StepCapabilities Can => StepCapabilities.Native;

            public Task<int> Completion => runner._exit.Task;

            public uint? StepNumber => FakeStepLauncher.StepNumber;

            public void Conclude(int exitCode) => runner.Exit(exitCode);

            public void GiveUp(string why) => runner.Exit(1);

            public void TerminalResized()
            {
            }

            public void Dispose()
            {
            }
        }
    }
}
