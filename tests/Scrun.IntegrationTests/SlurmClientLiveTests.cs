using System.Diagnostics;
using Scrun.IntegrationTests.Infrastructure;
using Scrun.Slurm;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Steps;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>Our Slurm client against real slurmctld and munged of Slurm 22.05, 24.11 and 26.05: no mocks.</summary>
[Collection(TestbedCollection.Name)]
public sealed class SlurmClientLiveTests(SlurmClustersFixture slurm) : IAsyncLifetime
{
    private readonly List<(SlurmCluster Cluster, uint Job)> _jobs = [];

    public static TheoryData<string> Releases() => new("22.05", "24.11", "26.05");

    private SlurmCluster Cluster(string release) => slurm.Clusters[release];

    private SlurmController Client(string release) => new SlurmClientSettings().Connect(Cluster(release).Config);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var (cluster, job) in _jobs)
        {
            try
            {
                await new SlurmClientSettings().Connect(cluster.Config).SignalJobAsync(job, Signal.Kill);
            }
            catch (SlurmException)
            {
            }
        }
        // The next test expects a free node: on a busy machine a killed job's step takes seconds to clean up.
        foreach (var (cluster, job) in _jobs)
        {
            for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline && !HasEnded(cluster, job);)
            {
                await Task.Delay(200);
            }
        }
    }

    private static bool HasEnded(SlurmCluster cluster, uint job)
    {
        var show = cluster.Tool("scontrol", "-o", "show", "job", job.ToString());
        return show.ExitCode != 0 || !(show.Stdout.Contains("JobState=RUNNING", StringComparison.Ordinal)
            || show.Stdout.Contains("JobState=PENDING", StringComparison.Ordinal)
            || show.Stdout.Contains("JobState=CONFIGURING", StringComparison.Ordinal)
            || show.Stdout.Contains("JobState=COMPLETING", StringComparison.Ordinal));
    }

    private static JobDescriptor Job(string name) => new()
    {
        Name = name,
        TimeLimit = 10,
        MinNodes = 1,
        WorkDir = "/tmp",
    };

    private async Task<ResourceAllocationResponse> AllocateAsync(string release, SlurmController client, JobDescriptor job)
    {
        var response = await client.AllocateAsync(job);
        _jobs.Add((Cluster(release), response.JobId));
        return response;
    }

    private Dictionary<string, string> ShowJob(string release, uint jobId)
    {
        var show = Cluster(release).Tool("scontrol", "-o", "show", "job", jobId.ToString());
        Assert.True(show.ExitCode == 0, show.ToString());
        return show.Stdout.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .GroupBy(pair => pair[0])
            .ToDictionary(group => group.Key, group => group.First()[1]);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task Ping_settles_on_the_newest_protocol_the_controller_speaks(string release)
    {
        var client = Client(release);
        var ping = await client.PingAsync();
        Assert.Equal(Cluster(release).ExpectedVersion, ping.Version);
        Assert.Equal(Cluster(release).ExpectedVersion, client.Version);
        Assert.Equal(Cluster(release).Config.FirstPort, ping.Port);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task An_allocation_carries_its_options_and_completes_with_its_exit_code(string release)
    {
        var client = Client(release);
        var job = Job("scrun-live-options");
        job.TimeLimit = 7;
        job.Partition = "debug";
        job.MaxNodes = 1;
        job.MinCpus = 1;
        job.MinMemoryPerNode = 100;
        job.Comment = "allocated-by-scrun";

        var allocation = await AllocateAsync(release, client, job);

        Assert.True(allocation.IsGranted);
        Assert.Equal("n1", allocation.NodeList);
        Assert.True((await client.GetJobReadyAsync(allocation.JobId)).IsReady);
        var shown = ShowJob(release, allocation.JobId);
        Assert.Equal("scrun-live-options", shown["JobName"]);
        Assert.Equal("RUNNING", shown["JobState"]);
        Assert.Equal("00:07:00", shown["TimeLimit"]);
        Assert.Equal("debug", shown["Partition"]);
        Assert.Equal("1", shown["NumNodes"]);
        Assert.Equal("100M", shown["MinMemoryNode"]);
        Assert.Equal("allocated-by-scrun", shown["Comment"]);

        var record = await client.GetJobAsync(allocation.JobId);
        Assert.NotNull(record);
        Assert.Equal(JobState.Running, record.State);
        Assert.Equal(7u, record.TimeLimitMinutes);
        Assert.Equal("n1", record.Nodes);

        await client.CompleteAllocationAsync(allocation.JobId, 3 << 8);

        var done = ShowJob(release, allocation.JobId);
        Assert.Equal("3:0", done["ExitCode"]);
        Assert.Contains(done["JobState"], new[] { "FAILED", "COMPLETED" });
        Assert.Equal((uint)(3 << 8), (await client.GetJobAsync(allocation.JobId))!.ExitCode);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_held_job_pends_then_is_granted_through_polling(string release)
    {
        var client = Client(release);
        var job = Job("scrun-live-held-poll");
        job.Priority = 0; // held, like --hold

        var allocation = await AllocateAsync(release, client, job);

        Assert.False(allocation.IsGranted);
        Assert.Null(await client.GetAllocationAsync(allocation.JobId));
        var pending = await client.GetJobAsync(allocation.JobId);
        Assert.Equal(JobState.Pending, pending!.State);
        Assert.NotEqual(0u, pending.StateReason);

        var reports = 0;
        var waiting = client.WaitForAllocationAsync(allocation.JobId, listener: null, TimeSpan.FromMilliseconds(200), _ => reports++);
        await Task.Delay(300);
        Assert.Equal(0, Cluster(release).Tool("scontrol", "release", allocation.JobId.ToString()).ExitCode);
        var granted = await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(granted.IsGranted);
        Assert.Equal("n1", granted.NodeList);
        Assert.True(reports >= 1);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_held_job_is_granted_through_the_callback_listener(string release)
    {
        var client = Client(release);
        var config = Cluster(release).Config;
        await using var listener = CallbackListener.Start(config, new MungeClient(config.MungeSocket), new MungeAuthenticator(new MungeClient(config.MungeSocket)));
        var job = Job("scrun-live-held-push");
        job.Priority = 0;
        job.AllocResponsePort = (ushort)listener.AllocationPort;
        job.OtherPort = (ushort)listener.MessagePort;

        var allocation = await AllocateAsync(release, client, job);
        Assert.False(allocation.IsGranted);

        // Polling once an hour: only the pushed RESPONSE_RESOURCE_ALLOCATION can end this wait in time.
        var waiting = client.WaitForAllocationAsync(allocation.JobId, listener, TimeSpan.FromHours(1));
        Assert.Equal(0, Cluster(release).Tool("scontrol", "release", allocation.JobId.ToString()).ExitCode);
        var granted = await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(granted.IsGranted);
        Assert.Equal(allocation.JobId, granted.JobId);
        Assert.False(listener.Rejected.TryRead(out var rejected), rejected?.Reason);

        // The end of the job reaches other_port as SRUN_JOB_COMPLETE.
        await client.SignalJobAsync(allocation.JobId, Signal.Kill);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        SrunCallback callback;
        do
        {
            callback = await listener.Callbacks.ReadAsync(timeout.Token);
        }
        while (callback is not SrunJobComplete);
        Assert.Equal(allocation.JobId, ((SrunJobComplete)callback).Step.JobId);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_job_cancelled_while_pending_ends_the_wait(string release)
    {
        var client = Client(release);
        var job = Job("scrun-live-cancel-pending");
        job.Priority = 0;
        var allocation = await AllocateAsync(release, client, job);

        var waiting = client.WaitForAllocationAsync(allocation.JobId, listener: null, TimeSpan.FromMilliseconds(200), _ => { });
        await client.SignalJobAsync(allocation.JobId, Signal.Kill);

        var error = await Assert.ThrowsAsync<SlurmException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(SlurmErrors.AlreadyDone, error.ErrorNumber);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task Sigusr1_leaves_the_job_running_and_sigkill_cancels_it(string release)
    {
        var client = Client(release);
        var allocation = await AllocateAsync(release, client, Job("scrun-live-signals"));

        await client.SignalJobAsync(allocation.JobId, new Signal(10));
        Assert.Equal("RUNNING", ShowJob(release, allocation.JobId)["JobState"]);

        await client.SignalJobAsync(allocation.JobId, Signal.Kill);
        var state = "";
        for (var i = 0; i < 50 && state != "CANCELLED"; i++)
        {
            state = ShowJob(release, allocation.JobId)["JobState"];
            await Task.Delay(100);
        }
        Assert.Equal("CANCELLED", state);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_step_is_signalled_without_ending_its_job(string release)
    {
        var client = Client(release);
        var allocation = await AllocateAsync(release, client, Job("scrun-live-step"));
        using var srun = Cluster(release).StartTool("srun", $"--jobid={allocation.JobId}", "sleep", "120");
        var started = false;
        for (var i = 0; i < 100 && !started; i++)
        {
            started = Cluster(release).Tool("squeue", "-h", "-s", "-j", allocation.JobId.ToString()).Stdout.Contains($"{allocation.JobId}.0");
            await Task.Delay(100);
        }
        Assert.True(started, "the step did not start");

        await client.SignalStepAsync(allocation.JobId, 0, Signal.Kill);

        // srun's own exit code is not ours to test: 24.11's exits 0 when slurmctld's word of the
        // cancelled step comes before the task's exit. The step ends; the job goes on.
        Assert.True(srun.WaitForExit(TimeSpan.FromSeconds(60)), "srun is still running after its step was killed");
        var stepGone = false;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline && !stepGone; await Task.Delay(200))
        {
            stepGone = !Cluster(release).Tool("squeue", "-h", "-s", "-j", allocation.JobId.ToString()).Stdout.Contains($"{allocation.JobId}.0");
        }
        Assert.True(stepGone, "the killed step is still listed");
        Assert.Equal("RUNNING", ShowJob(release, allocation.JobId)["JobState"]);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_step_launched_without_srun_has_its_stdio_and_exit_code(string release)
    {
        var client = Client(release);
        var allocation = await AllocateAsync(release, client, Job("scrun-live-native"));
        Assert.True(allocation.IsGranted);
        var output = new MemoryStream();
        var error = new MemoryStream();
        var request = StepIn(allocation, "read line; echo \"out $line\"; echo err >&2; exit 3");

        await using var session = await StepSession.LaunchAsync(client, request, new StepStreams(new MemoryStream("in1\n"u8.ToArray()), output, error));

        Assert.Equal(3, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("out in1\n", System.Text.Encoding.UTF8.GetString(output.ToArray()));
        Assert.Equal("err\n", System.Text.Encoding.UTF8.GetString(error.ToArray()));
        Assert.Equal(allocation.JobId, session.Step.JobId);
        Assert.Equal("RUNNING", ShowJob(release, allocation.JobId)["JobState"]);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_step_launched_without_srun_gets_a_terminal_of_the_size_asked(string release)
    {
        var client = Client(release);
        var allocation = await AllocateAsync(release, client, Job("scrun-live-native-pty"));
        Assert.True(allocation.IsGranted);
        var output = new MemoryStream();
        var request = StepIn(allocation, "stty size; test -t 0 && echo tty; exit 7") with { Terminal = new WindowSize(91, 33) };

        await using var session = await StepSession.LaunchAsync(client, request, new StepStreams(null, output, output));

        Assert.Equal(7, await session.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("33 91\r\ntty\r\n", System.Text.Encoding.UTF8.GetString(output.ToArray()));
    }

    /// <summary>The task's terminal stays open without input: slurmstepd applies a resize to the pty's master, which stdin's end closes.</summary>
    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_terminal_resized_after_launch_reaches_the_task(string release)
    {
        var client = Client(release);
        var allocation = await AllocateAsync(release, client, Job("scrun-live-native-resize"));
        Assert.True(allocation.IsGranted);
        var output = new MemoryStream();
        const string waitForResize = "echo started; i=0; while [ \"$(stty size)\" != '30 90' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; stty size";
        var request = StepIn(allocation, waitForResize) with { Terminal = new WindowSize(80, 24) };

        await using var session = await StepSession.LaunchAsync(client, request, new StepStreams(null, output, output));
        while (!session.Completion.IsCompleted)
        {
            session.Resize(new WindowSize(90, 30)); // until slurmstepd has connected its window port, a resize goes nowhere
            await Task.WhenAny(session.Completion, Task.Delay(200));
        }

        Assert.Equal(0, await session.Completion);
        Assert.Equal("started\r\n30 90\r\n", System.Text.Encoding.UTF8.GetString(output.ToArray()));
    }

    /// <summary>One task per node running <paramref name="script"/> on the node itself (no container).</summary>
    private static StepRequest StepIn(ResourceAllocationResponse allocation, string script) => new()
    {
        JobId = allocation.JobId,
        NodeCount = allocation.NodeCount,
        UserId = allocation.UserId,
        GroupId = allocation.GroupId,
        Name = "scrun-live-native",
        Arguments = ["/bin/sh", "-c", script],
        Environment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        Allocation = JobAllocation.From(allocation),
        WorkingDirectory = "/tmp",
    };

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task An_invalid_partition_is_a_clear_error(string release)
    {
        var job = Job("scrun-live-bad-partition");
        job.Partition = "no-such-partition";

        var error = await Assert.ThrowsAsync<SlurmException>(() => Client(release).AllocateAsync(job));

        Assert.Equal(SlurmErrors.InvalidPartitionName, error.ErrorNumber);
        Assert.Contains("Invalid partition name specified", error.Message);
        Assert.Contains("ESLURM_INVALID_PARTITION_NAME", error.Message);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task Two_clients_allocate_at_the_same_time(string release)
    {
        var first = AllocateAsync(release, Client(release), Job("scrun-live-concurrent-1"));
        var second = AllocateAsync(release, Client(release), Job("scrun-live-concurrent-2"));

        var results = await Task.WhenAll(first, second);

        Assert.All(results, r => Assert.True(r.IsGranted));
        Assert.NotEqual(results[0].JobId, results[1].JobId);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task An_unreachable_controller_is_named_with_its_port(string release)
    {
        var config = Cluster(release).Config with { FirstPort = 1, LastPort = 1, MessageTimeout = TimeSpan.FromSeconds(2) };

        var error = await Assert.ThrowsAsync<SlurmUnreachableException>(() => new SlurmClientSettings { PinnedProtocol = Cluster(release).ExpectedVersion }.Connect(config).PingAsync());

        Assert.Contains("127.0.0.1", error.Message);
        Assert.Contains(":1", error.Message);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_stopped_munged_is_named_by_its_socket_and_recovery_works(string release)
    {
        using var munged = PrivateMunged.Start(Cluster(release).MungeKey);
        var client = new SlurmClientSettings().Connect(Cluster(release).Config with { MungeSocket = munged.Socket });
        await client.PingAsync();

        munged.Stop();
        var error = await Assert.ThrowsAsync<MungeException>(() => client.PingAsync());
        Assert.Contains(munged.Socket, error.Message);
        Assert.Contains("munged", error.Message);

        munged.Restart();
        await client.PingAsync();
    }

    [Fact]
    public async Task The_24_05_format_works_against_24_11_which_still_reads_it()
    {
        // No controller of the bed speaks 24.05 as its own protocol; 24.11 accepts it, so this is
        // where the 0x2900 layouts (job_desc, allocation, the 22.05-ordered job record) meet a real one.
        var client = new SlurmClientSettings { PinnedProtocol = ProtocolVersion.V24_05 }.Connect(Cluster("24.11").Config);
        var job = Job("scrun-live-2405");
        job.Comment = "format-0x2900";

        Assert.Equal(ProtocolVersion.V24_05, (await client.PingAsync()).Version);
        var allocation = await AllocateAsync("24.11", client, job);
        Assert.True(allocation.IsGranted);
        var record = await client.GetJobAsync(allocation.JobId);
        Assert.NotNull(record);
        Assert.Equal(JobState.Running, record.State);
        Assert.Equal("format-0x2900", record.Comment);
        Assert.Equal("n1", record.Nodes);
        await client.CompleteAllocationAsync(allocation.JobId, 2 << 8);
        Assert.Equal("2:0", ShowJob("24.11", allocation.JobId)["ExitCode"]);
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public async Task A_batch_job_is_submitted(string release)
    {
        var client = Client(release);
        var job = Job("scrun-live-batch");
        job.Script = "#!/bin/sh\necho from-batch\n";
        job.StdOut = "/dev/null";
        job.StdErr = "/dev/null";
        job.Environment = ["PATH=/usr/bin:/bin"];
        job.Priority = 0; // held: it stays pending and never runs

        var submitted = await client.SubmitBatchJobAsync(job);
        _jobs.Add((Cluster(release), submitted.JobId));

        Assert.Equal("ESLURM_JOB_HELD", SlurmErrors.Name(submitted.ErrorCode));
        var shown = ShowJob(release, submitted.JobId);
        Assert.Equal("scrun-live-batch", shown["JobName"]);
        Assert.Equal("PENDING", shown["JobState"]);
        Assert.Equal("1", shown["BatchFlag"]);
    }

    [Fact]
    public async Task A_jwt_token_authenticates_without_munge()
    {
        var cluster = Cluster("22.05");
        var issued = cluster.Tool("scontrol", "token", "username=root", "lifespan=600");
        Assert.True(issued.ExitCode == 0, issued.ToString());
        var token = issued.Stdout.Trim()["SLURM_JWT=".Length..];
        var client = new SlurmClientSettings { Jwt = token }.Connect(cluster.Config with { MungeSocket = "/nonexistent/munge.socket" });

        Assert.Equal(ProtocolVersion.V22_05, (await client.PingAsync()).Version);
        var allocation = await AllocateAsync("22.05", client, Job("scrun-live-jwt"));
        Assert.True(allocation.IsGranted);
        Assert.Equal("root", ShowJob("22.05", allocation.JobId)["UserId"].Split('(')[0]);
        await client.CompleteAllocationAsync(allocation.JobId, 0);
    }

    [Fact]
    public async Task A_forged_jwt_token_is_refused()
    {
        var client = new SlurmClientSettings { Jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdW4iOiJyb290In0.forged", PinnedProtocol = ProtocolVersion.V22_05 }.Connect(Cluster("22.05").Config);

        // 22.05 answers a message it cannot authenticate by hanging up.
        var error = await Assert.ThrowsAsync<SlurmUnreachableException>(() => client.PingAsync());

        Assert.Contains("refused the message: authentication failed", error.Message);
    }

    /// <summary>A munged of the test's own, on its own socket, with the cluster's key: stopped without disturbing the bed.</summary>
    private sealed class PrivateMunged(string keyFile) : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("scrun-munged-").FullName;

        public string Socket => Path.Combine(_directory, "munge.socket");

        private string PidFile => Path.Combine(_directory, "munged.pid");

        public static PrivateMunged Start(string keyFile)
        {
            var munged = new PrivateMunged(keyFile);
            munged.Restart();
            return munged;
        }

        public void Restart()
        {
            var start = ProcessRunner.Run("/usr/sbin/munged",
            [
                "--force", $"--socket={Socket}", $"--pid-file={PidFile}", $"--log-file={Path.Combine(_directory, "munged.log")}",
                $"--seed-file={Path.Combine(_directory, "munged.seed")}", $"--key-file={keyFile}",
            ]);
            Assert.True(start.ExitCode == 0 && File.Exists(Socket), $"private munged did not start: {start}");
        }

        public void Stop()
        {
            if (File.Exists(PidFile) && int.TryParse(File.ReadAllText(PidFile).Trim(), out var pid))
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                process.WaitForExit();
            }
            File.Delete(Socket);
            File.Delete(PidFile);
        }

        public void Dispose()
        {
            Stop();
            Directory.Delete(_directory, recursive: true);
        }
    }
}
