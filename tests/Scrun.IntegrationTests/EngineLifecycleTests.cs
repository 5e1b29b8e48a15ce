using System.Text.RegularExpressions;
using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// The lifecycle every caller of scrun must get, for Podman and Docker on every release of the
/// bed: one suite, run by root's engines (<see cref="ContainerEngineTests"/>) and by a user's
/// rootless engines (<see cref="RootlessEngineTests"/>). A subclass says how its engines are run.
/// </summary>
public abstract partial class EngineLifecycleTests(TestbedFixture bed, SlurmClustersFixture clusters) : IDisposable
{
    public static TheoryData<string, string> EnginesOnEveryRelease => new()
    {
        { "podman", "22.05" }, { "docker", "22.05" },
        { "podman", "24.11" }, { "docker", "24.11" },
        { "podman", "26.05" }, { "docker", "26.05" },
    };

    public static TheoryData<string> Engines => new() { "podman", "docker" };

    protected TestbedFixture Bed => bed;

    protected SlurmClustersFixture Clusters => clusters;

    /// <summary>Runs the engines as this suite's caller.</summary>
    protected abstract EngineDriver Driver { get; }

    /// <summary>The runtime flags of <c>run</c> for a release of the bed.</summary>
    protected abstract string[] RuntimeFlags(string engine, string release);

    /// <summary>The command line that starts the engine (for script(1), which takes one).</summary>
    protected abstract string EngineCommandLine(string engine);

    /// <summary>Who the jobs belong to: user name and uid.</summary>
    protected abstract (string Name, uint Uid) JobOwner { get; }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Echo_is_a_job_of_the_caller_that_completes_on_the_node(string engine, string release)
    {
        var job = UniqueName("hello");
        var run = Run(engine, release, ["--rm", "-e", $"SCRUN_JOB_NAME={job}", bed.Image, "sh", "-c", "echo hello; id -u"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("hello\n0\n", run.Stdout); // the container's root: the job's owner on the node
        var record = WaitForJob(job, state => state is "COMPLETED", release);
        Assert.Equal("n1", record.Nodes);
        Assert.Equal(JobOwner.Name, record.User);
        var scontrol = clusters.Clusters[release].Tool("scontrol", "show", "job", record.Id);
        Assert.Contains($"UserId={JobOwner.Name}({JobOwner.Uid})", scontrol.Stdout);
        // The node's log stays clean (oci.conf's RunTimeQuery once runc run has removed the container).
        AssertNodeLogClean(record.Id, release);
    }

    /// <summary>slurmd logged no error for the job's steps (the lease's and the container's).</summary>
    private void AssertNodeLogClean(string job, string release)
    {
        var cluster = clusters.Clusters[release];
        ScrunDriver.WaitFor(() => cluster.SlurmdIsDoneWith("n1", job), $"slurmstepd to finish job {job}");
        Assert.DoesNotContain(cluster.SlurmdLinesOf("n1", job), line => line.Contains("error:", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void The_exit_code_and_both_streams_come_back(string engine, string release)
    {
        // Quiet: the stream compared whole must not depend on whether the node was free at once.
        var run = Run(engine, release, ["--rm", "-e", "SCRUN_QUIET=1", bed.Image, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"]);
        Assert.Equal(3, run.ExitCode);
        Assert.Equal("to-stdout\n", run.Stdout);
        Assert.Equal("to-stderr\n", EngineNoise().Replace(run.Stderr, "")); // without srun's "task 0: Exited with exit code 3"
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Stdin_reaches_the_container(string engine, string release)
    {
        var run = Run(engine, release, ["--rm", "-i", bed.Image, "sh", "-c", "read a; read b; echo got:$a:$b"], stdin: "one\ntwo\n");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("got:one:two\n", run.Stdout);
    }

    /// <summary>
    /// A terminal with the caller's size. Podman usually sizes the console before start; Docker
    /// starts at 0x0 and resizes right after start, before slurmstepd's window connection arrives
    /// (and, with srun, while a SIGWINCH would break srun up to 25.05). The container writes
    /// nothing until it sees the size, so the size must come without its help.
    /// </summary>
    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void A_terminal_with_the_callers_size_reaches_a_silent_container(string engine, string release)
    {
        const string waitForSize = "'i=0; while [ \"$(stty size 2>/dev/null)\" != \"45 123\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; test -t 0 && test -t 1 && echo tty-yes; stty size'";
        var job = UniqueName("tty");
        var command = string.Join(' ', ["stty cols 123 rows 45;", EngineCommandLine(engine), "run", .. RuntimeFlags(engine, release),
            "--rm", "-t", "-e", $"SCRUN_JOB_NAME={job}", bed.Image, "sh", "-c", waitForSize]);
        var run = bed.Run("script", ["-qec", command, "/dev/null"], stdin: null, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("tty-yes", run.Stdout);
        Assert.Contains("45 123", run.Stdout);
        Assert.DoesNotContain("accept failure", run.Stdout);
        AssertNodeLogClean(WaitForJob(job, state => state is "COMPLETED", release).Id, release); // a terminal of no size yet is 0x0 to slurmstepd
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Stop_sends_term_to_the_trap_and_its_exit_code_comes_back(string engine, string release)
    {
        var name = StartDetached(engine, release, "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var stop = Driver.Engine(engine, "stop", "-t", "20", name);
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Equal("7", Wait(engine, name));
        WaitForLog(engine, name, "got-term");
    }

    /// <summary>
    /// Signals the moment run -d returns, FPE included: each reaches the container's process and
    /// its trap (FPE sent by Slurm would kill runc, and later signals would go nowhere); none
    /// kills a child of it or puts a Slurm line in its output.
    /// </summary>
    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Signals_right_after_run_reach_the_containers_traps_fpe_included(string engine, string release)
    {
        var name = StartDetached(engine, release, "trap 'echo got-fpe' FPE; trap 'echo got-usr1' USR1; trap 'echo got-usr2; exit 7' USR2; while :; do sleep 0.1; done");
        foreach (var signal in new[] { "FPE", "USR1", "USR2" })
        {
            var kill = Driver.Engine(engine, "kill", "-s", signal, name);
            Assert.True(kill.ExitCode == 0, kill.ToString());
        }
        Assert.Equal("7", Wait(engine, name));
        var logs = Driver.Engine(engine, "logs", name);
        Assert.Equal("got-fpe\ngot-usr1\ngot-usr2\n", logs.Stdout);
        Assert.Equal("", EngineNoise().Replace(logs.Stderr, ""));
    }

    /// <summary>A container that ignores TERM, stopped the moment it runs: TERM, then KILL after the timeout, 137, and no Slurm line.</summary>
    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Stop_right_after_run_of_a_container_ignoring_term_is_137_with_no_slurm_line(string engine, string release)
    {
        var name = StartDetached(engine, release, "trap '' TERM; while :; do sleep 0.1; done");
        var stop = Driver.Engine(engine, "stop", "-t", "1", name);
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Equal("137", Wait(engine, name));
        var logs = Driver.Engine(engine, "logs", name);
        Assert.Equal("", logs.Stdout + EngineNoise().Replace(logs.Stderr, ""));
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Kill_ends_the_container_with_137(string engine, string release)
    {
        var name = StartDetached(engine, release, "trap '' TERM; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var kill = Driver.Engine(engine, "kill", name);
        Assert.True(kill.ExitCode == 0, kill.ToString());
        Assert.Equal("137", Wait(engine, name));
    }

    /// <summary>
    /// A refusal at create reaches the user as the engine shows runc's: scrun's one line, once,
    /// without a second "scrun: error:" (Podman reads the runtime's log as one JSON object and
    /// falls back to its stderr when there is more).
    /// </summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public void A_refusal_at_create_is_the_engines_one_line(string engine)
    {
        var job = UniqueName("refused");
        var run = Run(engine, "22.05", ["--rm", "-e", $"SCRUN_JOB_NAME={job}", "-e", "SCRUN_TIME_LIMIT=bogus", Bed.Image, "true"]);
        Assert.NotEqual(0, run.ExitCode);
        var expected = engine == "podman"
            ? "Error: OCI runtime error: scrun: SCRUN_TIME_LIMIT=bogus is not valid: expected a time limit such as 30, 2:00:00 or 1-12:00\n"
            : "OCI runtime create failed: SCRUN_TIME_LIMIT=bogus is not valid: expected a time limit such as 30, 2:00:00 or 1-12:00: unknown";
        Assert.Contains(expected, run.Stderr);
        Assert.DoesNotContain("scrun: error:", run.Stderr);
        Assert.Null(FindJob(job));
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void Removing_a_running_container_by_force_ends_its_job(string engine, string release)
    {
        var job = UniqueName("rmf");
        var name = StartDetached(engine, release, "echo ready; while :; do sleep 0.2; done", "-e", $"SCRUN_JOB_NAME={job}");
        WaitForLog(engine, name, "ready");
        Assert.Equal("RUNNING", FindJob(job, release)?.State);
        // sh is the container's PID 1 and ignores SIGTERM: Podman waits its stop timeout, then kills.
        var rm = engine == "podman" ? Driver.Engine(engine, "rm", "-f", "-t", "1", name) : Driver.Engine(engine, "rm", "-f", name);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        WaitForJob(job, state => state is not ("RUNNING" or "PENDING" or "COMPLETING"), release);
        Assert.DoesNotContain(name, Driver.Engine(engine, "ps", "-a", "--format", "{{.Names}}").Stdout);
    }

    [Theory]
    [MemberData(nameof(EnginesOnEveryRelease))]
    public void A_detached_container_logs_both_streams_and_its_scrun_variables_shape_the_job(string engine, string release)
    {
        var job = UniqueName("vars");
        var name = StartDetached(engine, release, "echo ready; echo on-stderr >&2; while :; do sleep 0.2; done",
            "-e", $"SCRUN_JOB_NAME={job}", "-e", "SCRUN_TIME_LIMIT=7");
        WaitForLog(engine, name, "ready");
        Assert.Contains("on-stderr", Driver.Engine(engine, "logs", name).Stderr);
        var record = FindJob(job, release) ?? throw new InvalidOperationException($"no job named {job}");
        Assert.Equal("RUNNING", record.State);
        Assert.Equal("7:00", record.TimeLimit);
        Assert.Equal(JobOwner.Name, record.User);
    }

    /// <summary>
    /// samples/scrun.lua as a site installs it (the man page's example, hardened): the step runs
    /// from an rsynced copy under the job owner's /run/user, in a user namespace whose root is
    /// the owner, and stage-out removes the copy.
    /// </summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public void The_sample_scrun_lua_runs_the_container_from_a_staged_copy_and_removes_it(string engine)
    {
        using var script = bed.InstallScript(File.ReadAllText(Path.Combine(Repository.Root, "samples", "scrun.lua")));
        var name = StartDetached(engine, "22.05", "cat /proc/self/uid_map; echo made > /made-in-the-job; echo ready; while :; do sleep 0.2; done");
        WaitForLog(engine, name, "ready");
        var id = Driver.Engine(engine, "inspect", "-f", "{{.Id}}", name).Stdout.Trim();
        var staged = $"/run/user/{JobOwner.Uid}/slurm/scrun/{id}";
        Assert.Equal("made\n", File.ReadAllText($"{staged}/rootfs/made-in-the-job")); // the job writes into the staged copy
        Assert.Matches($@"(?m)^\s*0\s+{JobOwner.Uid}\s+1\s*$", Driver.Engine(engine, "logs", name).Stdout); // the rewritten user namespace

        var rm = Driver.Engine(engine, "rm", "-f", name);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.False(Directory.Exists(staged), "stage-out left the staged copy");
    }

    /// <summary>
    /// podman build with scrun as its runtime: the RUN step, which Buildah mounts the root
    /// filesystem of in a mount namespace of its own, is a job of the caller on the node, and the
    /// image Buildah commits has what the step wrote.
    /// </summary>
    [Fact]
    public void Podman_build_runs_a_RUN_step_as_a_job_and_the_image_has_what_it_wrote()
    {
        var job = UniqueName("build");
        using var context = new BuildContext(Driver, bed.Image);
        var build = Driver.Engine("podman", ["build", .. RuntimeFlags("podman", "22.05"), "--build-arg", $"SCRUN_JOB_NAME={job}", "-t", context.Image, context.Directory],
            timeout: TimeSpan.FromMinutes(4));
        Assert.True(build.ExitCode == 0, build.ToString());
        var record = WaitForJob(job, state => state is "COMPLETED");
        Assert.Equal(JobOwner.Name, record.User);
        Assert.Equal("built\n", ReadBuiltFile(context.Image));
    }

    /// <summary>
    /// A site's SCRUN_BUILD_RUNTIME (containers.conf's [engine] env; here the engine's own
    /// environment): the RUN step runs on this node with that runtime, no job, and the image has
    /// what it wrote.
    /// </summary>
    [Fact]
    public void Podman_build_with_a_build_runtime_runs_the_RUN_step_on_the_login_node()
    {
        var job = UniqueName("local-build");
        using var context = new BuildContext(Driver, bed.Image);
        var build = Driver.Engine("env", ["SCRUN_BUILD_RUNTIME=/usr/sbin/runc", "podman", "build", .. RuntimeFlags("podman", "22.05"),
            "--build-arg", $"SCRUN_JOB_NAME={job}", "-t", context.Image, context.Directory], timeout: TimeSpan.FromMinutes(4));
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Equal("built\n", ReadBuiltFile(context.Image));
        Assert.Null(FindJob(job));
    }

    /// <summary>/f of a built image, read with runc on this node (not through scrun).</summary>
    private string ReadBuiltFile(string image)
    {
        var cat = Driver.Engine("podman", "run", "--rm", "--runtime", "runc", image, "cat", "/f");
        Assert.True(cat.ExitCode == 0, cat.ToString());
        return cat.Stdout;
    }

    /// <summary>
    /// A build context any user may read (a Containerfile FROM the bed's image whose RUN step
    /// writes /f, its job named by the build argument SCRUN_JOB_NAME) and the name of the image to
    /// build; the image (through the caller's engine) and the context are removed when disposed.
    /// </summary>
    private sealed class BuildContext : IDisposable
    {
        private readonly EngineDriver _engines;

        public BuildContext(EngineDriver engines, string baseImage)
        {
            _engines = engines;
            const UnixFileMode readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            Directory = System.IO.Directory.CreateTempSubdirectory("scrun-build-").FullName;
            File.SetUnixFileMode(Directory, readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            var containerfile = Path.Combine(Directory, "Containerfile");
            File.WriteAllText(containerfile, $"FROM {baseImage}\nARG SCRUN_JOB_NAME\nRUN echo built > /f\n");
            File.SetUnixFileMode(containerfile, readable);
        }

        public string Directory { get; }

        public string Image { get; } = $"localhost/{UniqueName("built")}";

        public void Dispose()
        {
            _engines.Engine("podman", "rmi", "-f", Image);
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    public void Dispose()
    {
        Driver.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>What the engines print on their own in the rootless setup (Podman with the host's PID namespace and no cgroups, Docker without IP forwarding).</summary>
    [GeneratedRegex(@"(?m)^(time="".*level=warning.*|WARNING: IPv4 forwarding is disabled.*)\n")]
    protected static partial Regex EngineNoise();

    protected ProcessResult Run(string engine, string release, string[] arguments, string? stdin = null, TimeSpan? timeout = null) =>
        Driver.Engine(engine, ["run", .. RuntimeFlags(engine, release), .. arguments], stdin, timeout);

    protected string StartDetached(string engine, string release, string script, params string[] flags) =>
        Driver.StartDetached(engine, bed.Image, script, [.. RuntimeFlags(engine, release), .. flags]);

    protected void WaitForLog(string engine, string name, string text) => Driver.WaitForLog(engine, name, text);

    protected static string UniqueName(string prefix) => EngineDriver.UniqueName(prefix);

    protected string Wait(string engine, string name) => Driver.Wait(engine, name);

    protected EngineJob? FindJob(string jobName, string release = "22.05") => Driver.FindJob(jobName, release);

    protected EngineJob WaitForJob(string jobName, Func<string, bool> state, string release = "22.05") => Driver.WaitForJob(jobName, state, release);
}
