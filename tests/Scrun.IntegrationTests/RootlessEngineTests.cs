using System.Text.RegularExpressions;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// Rootless Podman and rootless Docker, run by an ordinary user with scrun as their default
/// runtime (configured from samples/), as Slurm documents scrun: scrun runs as uid 0 of the
/// engine's user namespace, the job and the step belong to the user. On 22.05 (the bed) and on
/// the 24.11 and 26.05 clusters (runtimes scrun-24.11 and scrun-26.05 of the same user).
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed partial class RootlessEngineTests(TestbedFixture bed, SlurmClustersFixture clusters, RootlessFixture rootless) : IDisposable
{
    private readonly List<(string Engine, string Name)> _started = [];

    public static TheoryData<string, string> EnginesOnEveryRelease => new()
    {
        { "podman", "22.05" }, { "docker", "22.05" },
        { "podman", "24.11" }, { "docker", "24.11" },
        { "podman", "26.05" }, { "docker", "26.05" },
    };

    public static TheoryData<string> Engines => new() { "podman", "docker" };

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Echo_is_a_job_of_the_user_and_completes(string engine, string release)
    {
        var job = UniqueName("hello");
        var run = Run(engine, release, ["--rm", "-e", $"SCRUN_JOB_NAME={job}", bed.Image, "sh", "-c", "echo hello; id -u"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("hello\n0\n", run.Stdout); // root of the container, which is the user on the node
        var record = WaitForJob(job, state => state is "COMPLETED", release);
        Assert.Equal(rootless.User, record.User);
        var scontrol = clusters.Clusters[release].Tool("scontrol", "show", "job", record.Id);
        Assert.Contains($"UserId={rootless.User}({rootless.Uid})", scontrol.Stdout);
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void The_exit_code_and_both_streams_come_back(string engine, string release)
    {
        var run = Run(engine, release, ["--rm", "-e", "SCRUN_QUIET=1", bed.Image, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"]);
        Assert.Equal(3, run.ExitCode);
        Assert.Equal("to-stdout\n", run.Stdout);
        Assert.Equal("to-stderr\n", EngineNoise().Replace(run.Stderr, ""));
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Stdin_reaches_the_container(string engine, string release)
    {
        var run = Run(engine, release, ["--rm", "-i", bed.Image, "sh", "-c", "read a; read b; echo got:$a:$b"], stdin: "one\ntwo\n");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("got:one:two\n", run.Stdout);
    }

    /// <summary>The container waits until it sees the caller's size: Docker sends it just after start.</summary>
    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void A_terminal_with_the_callers_size_reaches_the_container(string engine, string release)
    {
        const string waitForSize = "'i=0; while [ \"$(stty size 2>/dev/null)\" != \"45 123\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; test -t 0 && echo tty-yes; stty size'";
        var command = string.Join(' ', ["stty cols 123 rows 45;", rootless.AsCommandLine(rootless.User), engine, "run", .. RuntimeFlags(release),
            "--rm", "-t", bed.Image, "sh", "-c", waitForSize]);
        var run = bed.Run("script", ["-qec", command, "/dev/null"], stdin: null, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("tty-yes", run.Stdout);
        Assert.Contains("45 123", run.Stdout);
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Stop_sends_term_to_the_trap_and_its_exit_code_comes_back(string engine, string release)
    {
        var name = StartDetached(engine, release, "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var stop = As(engine, "stop", "-t", "20", name);
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Equal("7", Wait(engine, name));
        WaitForLog(engine, name, "got-term");
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Kill_ends_the_container_with_137(string engine, string release)
    {
        var name = StartDetached(engine, release, "trap '' TERM; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var kill = As(engine, "kill", name);
        Assert.True(kill.ExitCode == 0, kill.ToString());
        Assert.Equal("137", Wait(engine, name));
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Removing_a_running_container_by_force_ends_its_job(string engine, string release)
    {
        var job = UniqueName("rmf");
        var name = StartDetached(engine, release, "echo ready; while :; do sleep 0.2; done", "-e", $"SCRUN_JOB_NAME={job}");
        WaitForLog(engine, name, "ready");
        Assert.Equal("RUNNING", FindJob(job, release)?.State);
        var rm = engine == "podman" ? As(engine, "rm", "-f", "-t", "1", name) : As(engine, "rm", "-f", name);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        WaitForJob(job, state => state is not ("RUNNING" or "PENDING" or "COMPLETING"), release);
        Assert.DoesNotContain(name, As(engine, "ps", "-a", "--format", "{{.Names}}").Stdout);
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void A_detached_container_logs_and_its_scrun_variables_shape_the_job(string engine, string release)
    {
        var job = UniqueName("vars");
        var name = StartDetached(engine, release, "echo ready; echo on-stderr >&2; while :; do sleep 0.2; done",
            "-e", $"SCRUN_JOB_NAME={job}", "-e", "SCRUN_TIME_LIMIT=7");
        WaitForLog(engine, name, "ready");
        var logs = As(engine, "logs", name);
        Assert.Contains("on-stderr", logs.Stderr);
        var record = FindJob(job, release) ?? throw new InvalidOperationException($"no job named {job}");
        Assert.Equal("RUNNING", record.State);
        Assert.Equal("7:00", record.TimeLimit);
        Assert.Equal(rootless.User, record.User);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Slurm_job_id_joins_the_users_own_allocation(string engine)
    {
        var cluster = clusters.Clusters["22.05"];
        var salloc = rootless.As(rootless.User, ["env", $"SLURM_CONF={cluster.SlurmConf}", "salloc", "--no-shell", "-N1", "-J", UniqueName("existing")]);
        var job = Regex.Match(salloc.Stderr + salloc.Stdout, @"Granted job allocation (\d+)").Groups[1].Value;
        Assert.True(job.Length > 0, salloc.ToString());
        try
        {
            var run = Run(engine, "22.05", ["--rm", "-e", $"SLURM_JOB_ID={job}", bed.Image, "sh", "-c", "echo in-job $SLURM_JOB_ID"]);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal($"in-job {job}\n", run.Stdout);
            Assert.Equal("RUNNING", cluster.Tool("squeue", "-h", "-j", job, "-o", "%T").Stdout.Trim());
        }
        finally
        {
            cluster.Tool("scancel", job);
        }
    }

    /// <summary>
    /// The stranger tries everything on the user's running container, with the user's state
    /// directory named outright: nothing is shown, nothing reaches the container or its job.
    /// </summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public void Another_user_cannot_see_signal_or_delete_the_users_container(string engine)
    {
        var job = UniqueName("mine");
        var name = StartDetached(engine, "22.05", "trap 'echo got-hup' HUP; echo ready; while :; do sleep 0.2; done", "-e", $"SCRUN_JOB_NAME={job}");
        WaitForLog(engine, name, "ready");
        var id = As(engine, "inspect", "-f", "{{.Id}}", name).Stdout.Trim();
        // Podman lets scrun choose ($XDG_RUNTIME_DIR/scrun); Docker's shim names its own root.
        var root = engine == "podman" ? $"/run/user/{rootless.Uid}/scrun" : $"/run/user/{rootless.Uid}/docker/runtime-runc/moby";
        Assert.True(Directory.Exists(Path.Combine(root, id)), $"the container's state is not in {root}");

        foreach (var verb in new[] { new[] { "state", id }, ["kill", id, "1"], ["kill", id, "9"], ["delete", "--force", id] })
        {
            var attempt = rootless.As(rootless.OtherUser, [rootless.Scrun, "--root", root, .. verb]);
            Assert.True(attempt.ExitCode != 0, $"{string.Join(' ', verb)} as {rootless.OtherUser}: {attempt}");
            Assert.Matches(@"^scrun: error: .*(ermission denied|belongs to uid)", attempt.Stderr);
            Assert.Equal("", attempt.Stdout);
        }
        // Without --root the stranger's scrun looks in the stranger's own directory.
        var state = rootless.As(rootless.OtherUser, [rootless.Scrun, "state", id]);
        Assert.NotEqual(0, state.ExitCode);
        Assert.Contains("does not exist", state.Stderr);

        Assert.Equal("true", As(engine, "inspect", "-f", "{{.State.Running}}", name).Stdout.Trim());
        Assert.Equal("RUNNING", FindJob(job, "22.05")?.State);
        Assert.DoesNotContain("got-hup", As(engine, "logs", name).Stdout);
    }

    /// <summary>A state directory the user left readable is still refused to anyone else.</summary>
    [Fact]
    public void Another_users_state_directory_is_refused_even_when_readable()
    {
        var root = $"/tmp/scrun-rootless-{Guid.NewGuid():n}";
        try
        {
            Assert.Equal(0, rootless.As(rootless.User, ["sh", "-c", $"mkdir -m 755 {root} && mkdir -m 755 {root}/c1 && echo '{{}}' > {root}/c1/state.json"]).ExitCode);
            foreach (var verb in new[] { new[] { "state", "c1" }, ["kill", "c1", "9"], ["delete", "--force", "c1"], ["create", "--bundle", bed.Bundle, "c2"] })
            {
                var attempt = rootless.As(rootless.OtherUser, [rootless.Scrun, "--root", root, .. verb]);
                Assert.Equal(1, attempt.ExitCode);
                Assert.Equal($"scrun: error: cannot use {root} as the state directory: it belongs to uid {rootless.Uid}, not to uid {rootless.OtherUid}\n", attempt.Stderr);
            }
            Assert.True(File.Exists($"{root}/c1/state.json"));
            Assert.False(Directory.Exists($"{root}/c2"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Inside a rootless engine's namespace srun would ask for uid 0: create says so, and asks for no job.</summary>
    [Fact]
    public void The_srun_launcher_is_refused_at_create_inside_the_namespace()
    {
        var job = UniqueName("srun");
        var name = UniqueName("podman");
        _started.Add(("podman", name));
        var run = Run("podman", "22.05", ["--name", name, "-e", "SCRUN_STEP_LAUNCHER=srun", "-e", $"SCRUN_JOB_NAME={job}", bed.Image, "true"]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("the step would be launched by srun (SCRUN_STEP_LAUNCHER=srun), which cannot work inside a rootless engine's user namespace", run.Stderr);
        Assert.Null(FindJob(job, "22.05"));
    }

    /// <summary>
    /// Overlay storage mounts each root filesystem inside Podman's namespace, where no node can
    /// see it: create refuses it in one line, and no job is left.
    /// </summary>
    [Fact]
    public void A_root_filesystem_only_the_engines_namespace_sees_is_refused_at_create()
    {
        var storage = $"/tmp/scrun-testbed/home/{rootless.User}/.local/share/scrun-overlay-test";
        string[] overlay = ["podman", "--storage-driver", "overlay", "--root", storage, "--runroot", $"/run/user/{rootless.Uid}/scrun-overlay-test"];
        try
        {
            var import = rootless.As(rootless.User, [.. overlay, "import", "-q", Path.Combine(bed.Environment["TESTBED_DIR"], "busybox-rootfs.tar"), "localhost/overlay-busybox"]);
            Assert.True(import.ExitCode == 0, import.ToString());
            var job = UniqueName("overlay");
            var run = rootless.As(rootless.User, [.. overlay, "run", "--rm", "-e", $"SCRUN_JOB_NAME={job}", "localhost/overlay-busybox", "true"]);
            Assert.NotEqual(0, run.ExitCode);
            Assert.Matches(@"the container's root filesystem /\S+/merged is a mount only the engine's namespace has, which no compute node can see: use vfs storage, or a scrun.lua that copies it", run.Stderr);
            WaitForJob(job, state => state is "CANCELLED", "22.05");
        }
        finally
        {
            rootless.As(rootless.User, [.. overlay, "rm", "-a", "-f", "-t", "0"]);
            rootless.As(rootless.User, ["podman", "unshare", "rm", "-rf", storage, $"/run/user/{rootless.Uid}/scrun-overlay-test"]);
        }
    }

    /// <summary>samples/scrun.lua, as the man page's example: an rsynced copy under the user's /run/user, run in a user namespace.</summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public void The_sample_scrun_lua_stages_a_rootless_container(string engine)
    {
        using var script = bed.InstallScript(File.ReadAllText(Path.Combine(Repository.Root, "samples", "scrun.lua")));
        var name = StartDetached(engine, "22.05", "cat /proc/self/uid_map; echo made > /made-in-the-job; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var id = As(engine, "inspect", "-f", "{{.Id}}", name).Stdout.Trim();
        var staged = $"/run/user/{rootless.Uid}/slurm/scrun/{id}";
        Assert.Equal("made\n", File.ReadAllText($"{staged}/rootfs/made-in-the-job"));
        Assert.Matches($@"(?m)^\s*0\s+{rootless.Uid}\s+1\s*$", As(engine, "logs", name).Stdout); // root of the container is the user

        var rm = As(engine, "rm", "-f", name);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.False(Directory.Exists(staged), "stage-out left the staged copy");
    }

    public void Dispose()
    {
        foreach (var (engine, name) in _started)
        {
            As(engine, "rm", "-f", name);
        }
    }

    /// <summary>What the engines print on their own in this setup (Podman with the host's PID namespace and no cgroups, Docker without IP forwarding).</summary>
    [GeneratedRegex(@"(?m)^(time="".*level=warning.*|WARNING: IPv4 forwarding is disabled.*)\n")]
    private static partial Regex EngineNoise();

    private static string[] RuntimeFlags(string release) => release == "22.05" ? [] : ["--runtime", $"scrun-{release}"];

    private ProcessResult As(string engine, params string[] arguments) => rootless.As(rootless.User, [engine, .. arguments]);

    private ProcessResult Run(string engine, string release, string[] arguments, string? stdin = null) =>
        rootless.As(rootless.User, [engine, "run", .. RuntimeFlags(release), .. arguments], stdin);

    private string StartDetached(string engine, string release, string script, params string[] flags)
    {
        var name = UniqueName(engine);
        _started.Add((engine, name));
        var run = Run(engine, release, ["-d", "--name", name, .. flags, bed.Image, "sh", "-c", script]);
        Assert.True(run.ExitCode == 0, run.ToString());
        return name;
    }

    private string Wait(string engine, string name)
    {
        var wait = rootless.As(rootless.User, [engine, "wait", name], timeout: TimeSpan.FromSeconds(60));
        Assert.True(wait.ExitCode == 0, wait.ToString());
        return wait.Stdout.Trim();
    }

    private void WaitForLog(string engine, string name, string text)
    {
        var logs = new ProcessResult(0, "", "");
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; Thread.Sleep(100))
        {
            logs = As(engine, "logs", name);
            if (logs.Stdout.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
        }
        Assert.Fail($"'{text}' never reached the logs of {name}:\n{logs}");
    }

    private static string UniqueName(string prefix) => $"scrun-rl-{prefix}-{Guid.NewGuid().ToString("n")[..8]}";

    private sealed record JobRecord(string Id, string State, string User, string TimeLimit);

    private JobRecord? FindJob(string jobName, string release)
    {
        var squeue = clusters.Clusters[release].Tool("squeue", "--states=all", "-h", "-n", jobName, "-o", "%i|%T|%u|%l");
        Assert.True(squeue.ExitCode == 0, squeue.ToString());
        var fields = squeue.Stdout.Trim().Split('|');
        return fields.Length == 4 ? new JobRecord(fields[0], fields[1], fields[2], fields[3]) : null;
    }

    private JobRecord WaitForJob(string jobName, Func<string, bool> state, string release)
    {
        JobRecord? record = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; Thread.Sleep(100))
        {
            record = FindJob(jobName, release);
            if (record is not null && state(record.State))
            {
                return record;
            }
        }
        throw new InvalidOperationException($"job {jobName} never reached the expected state (last seen: {record?.State ?? "absent"})");
    }
}
