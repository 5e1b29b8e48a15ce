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
public sealed class RootlessEngineTests(TestbedFixture bed, SlurmClustersFixture clusters, RootlessFixture rootless) : EngineLifecycleTests(bed, clusters)
{
    private readonly EngineDriver _engines = new(
        (command, stdin, timeout) => rootless.As(rootless.User, [command[0] == "docker" ? bed.DockerCli : command[0], .. command.Skip(1)], stdin, timeout), clusters);

    protected override EngineDriver Driver => _engines;

    protected override (string Name, uint Uid) JobOwner => (rootless.User, rootless.Uid);

    protected override string EngineCommandLine(string engine) => $"{rootless.AsCommandLine(rootless.User)} {(engine == "docker" ? Bed.DockerCli : engine)}";

    /// <summary>scrun is the engines' default runtime (22.05); the user's scrun-24.11 and scrun-26.05 reach the other Clusters.</summary>
    protected override string[] RuntimeFlags(string engine, string release) => release == "22.05" ? [] : ["--runtime", $"scrun-{release}"];

    [Theory]
    [MemberData(nameof(Engines))]
    public void Slurm_job_id_joins_the_users_own_allocation(string engine)
    {
        var cluster = Clusters.Clusters["22.05"];
        var salloc = rootless.As(rootless.User, ["env", $"SLURM_CONF={cluster.SlurmConf}", "salloc", "--no-shell", "-N1", "-J", UniqueName("existing")]);
        var job = Regex.Match(salloc.Stderr + salloc.Stdout, @"Granted job allocation (\d+)").Groups[1].Value;
        Assert.True(job.Length > 0, salloc.ToString());
        try
        {
            var run = Run(engine, "22.05", ["--rm", "-e", $"SLURM_JOB_ID={job}", Bed.Image, "sh", "-c", "echo in-job $SLURM_JOB_ID"]);
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

        foreach (var verb in new[] { new[] { "state", id }, ["kill", id, "1"], ["kill", id, "9"], ["exec", id, "true"], ["pause", id], ["resume", id], ["delete", "--force", id] })
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

    /// <summary>
    /// Rootless runc cannot freeze on the bed's cgroup v1: Docker's pause fails with scrun's one
    /// line naming why (Podman refuses it by itself), and the container runs on.
    /// </summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public void Pause_where_the_node_cannot_freeze_is_one_line_and_the_container_runs_on(string engine)
    {
        var name = StartDetached(engine, "22.05", "echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var pause = As(engine, "pause", name);
        Assert.NotEqual(0, pause.ExitCode);
        Assert.Contains(engine == "docker" ? "cannot toggle freezer: cgroups not configured for container (the node cannot freeze this container" : "can not pause containers on rootless containers with cgroup V1", pause.Stderr);
        Assert.Single(EngineNoise().Replace(pause.Stderr, "").TrimEnd('\n').Split('\n'));
        Assert.Equal("running", As(engine, "inspect", "-f", "{{.State.Status}}", name).Stdout.Trim());
        Assert.Equal("alive\n", As(engine, "exec", name, "echo", "alive").Stdout);
    }

    /// <summary>A state directory the user left readable is still refused to anyone else.</summary>
    [Fact]
    public void Another_users_state_directory_is_refused_even_when_readable()
    {
        var root = $"/tmp/scrun-rootless-{Guid.NewGuid():n}";
        try
        {
            Assert.Equal(0, rootless.As(rootless.User, ["sh", "-c", $"mkdir -m 755 {root} && mkdir -m 755 {root}/c1 && echo '{{}}' > {root}/c1/state.json"]).ExitCode);
            foreach (var verb in new[] { new[] { "state", "c1" }, ["kill", "c1", "9"], ["delete", "--force", "c1"], ["create", "--bundle", Bed.Bundle, "c2"] })
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
        var name = _engines.NewName("podman");
        var run = Run("podman", "22.05", ["--name", name, "-e", "SCRUN_STEP_LAUNCHER=srun", "-e", $"SCRUN_JOB_NAME={job}", Bed.Image, "true"]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("the step would be launched by srun (SCRUN_STEP_LAUNCHER=srun), which cannot work inside a rootless engine's user namespace", run.Stderr);
        Assert.Null(FindJob(job, "22.05"));
    }

    /// <summary>
    /// Overlay storage mounts each root filesystem inside Podman's namespace, where no node can
    /// see it: create refuses it in one line, before any job is asked for.
    /// </summary>
    [Fact]
    public void A_root_filesystem_only_the_engines_namespace_sees_is_refused_at_create()
    {
        using var overlay = new OverlayStorage(rootless, Bed);
        var job = UniqueName("overlay");
        var run = rootless.As(rootless.User, [.. overlay.Podman, "run", "--rm", "-e", $"SCRUN_JOB_NAME={job}", OverlayStorage.Image, "true"]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Matches(@"the container's root filesystem /\S+/merged is a mount only the engine's namespace has, which no compute node can see: use vfs storage, or a scrun.lua that copies it", run.Stderr);
        Assert.Null(FindJob(job));
    }

    /// <summary>
    /// podman build on overlay storage: Buildah's RUN step runs on a mount only the engine's
    /// namespace has. create refuses it in one line that says what to do, and asks for no job.
    /// </summary>
    [Fact]
    public void A_build_step_on_overlay_storage_is_refused_at_create_with_what_to_do()
    {
        using var overlay = new OverlayStorage(rootless, Bed);
        var job = UniqueName("overlay-build");
        var context = Directory.CreateTempSubdirectory("scrun-build-").FullName;
        try
        {
            const UnixFileMode readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            File.SetUnixFileMode(context, readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute); // the user reads it
            File.WriteAllText(Path.Combine(context, "Containerfile"), $"FROM {OverlayStorage.Image}\nARG SCRUN_JOB_NAME\nRUN echo built > /f\n");
            File.SetUnixFileMode(Path.Combine(context, "Containerfile"), readable);
            var build = rootless.As(rootless.User, [.. overlay.Podman, "build", "--build-arg", $"SCRUN_JOB_NAME={job}", "-t", "localhost/overlay-built", context], timeout: TimeSpan.FromMinutes(4));
            Assert.NotEqual(0, build.ExitCode);
            Assert.Matches(@"the root filesystem of this podman build RUN step, /var/tmp/buildah\d+/mnt/rootfs, is a mount only the engine's namespace has, which no compute node can see: use vfs storage, set SCRUN_BUILD_RUNTIME to run build steps on this node, or build with --runtime runc", build.Stderr);
            Assert.Null(FindJob(job));
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }
    }

    /// <summary>The rootless user's Podman on overlay storage of its own, holding the bed's busybox; all of it removed when disposed.</summary>
    private sealed class OverlayStorage : IDisposable
    {
        public const string Image = "localhost/overlay-busybox";

        private readonly RootlessFixture _rootless;
        private readonly string _storage;
        private readonly string _runRoot;

        public OverlayStorage(RootlessFixture rootless, TestbedFixture bed)
        {
            _rootless = rootless;
            _storage = $"/tmp/scrun-testbed/home/{rootless.User}/.local/share/scrun-overlay-test";
            _runRoot = $"/run/user/{rootless.Uid}/scrun-overlay-test";
            Podman = ["podman", "--storage-driver", "overlay", "--root", _storage, "--runroot", _runRoot];
            var import = rootless.As(rootless.User, [.. Podman, "import", "-q", Path.Combine(bed.Environment["TESTBED_DIR"], "busybox-rootfs.tar"), Image]);
            Assert.True(import.ExitCode == 0, import.ToString());
        }

        /// <summary>The user's podman command on this storage.</summary>
        public string[] Podman { get; }

        public void Dispose()
        {
            _rootless.As(_rootless.User, [.. Podman, "rm", "-a", "-f", "-t", "0"]);
            _rootless.As(_rootless.User, ["podman", "unshare", "rm", "-rf", _storage, _runRoot]);
        }
    }

    private ProcessResult As(string engine, params string[] arguments) => _engines.Engine(engine, arguments);

    private ProcessResult Run(string engine, string release, string[] arguments) => Run(engine, release, arguments, stdin: null);
}
