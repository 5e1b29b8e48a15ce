using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace Scrun.IntegrationTests.Infrastructure;

/// <summary>
/// Calls scrun's OCI verbs the way conmon and containerd-shim do, against the bed's Slurm, with
/// a state root of its own; force-deletes what it created when disposed.
/// </summary>
public sealed class ScrunDriver : IDisposable
{
    private readonly TestbedFixture _bed;
    private readonly List<string> _ids = [];

    public ScrunDriver(TestbedFixture bed, string prefix = "scrun-verbs-")
    {
        _bed = bed;
        Directory = System.IO.Directory.CreateTempSubdirectory(prefix).FullName;
        Root = Path.Combine(Directory, "root");
    }

    /// <summary>A temporary directory for the test: bundles, stdio files, the default root.</summary>
    public string Directory { get; }

    /// <summary>The <c>--root</c> every call passes (settable: a symlink, a small tmpfs...).</summary>
    public string Root { get; set; }

    public TestbedFixture Bed => _bed;

    public static string UniqueName(string prefix) => $"scrun-{prefix}-{Guid.NewGuid().ToString("n")[..8]}";

    /// <summary>A fresh container id, force-deleted at the end of the test.</summary>
    public string NewId(string prefix = "c")
    {
        var id = UniqueName(prefix);
        lock (_ids)
        {
            _ids.Add(id);
        }
        return id;
    }

    /// <summary>A bundle over the bed's busybox rootfs (or <paramref name="rootfs"/>) running <paramref name="args"/>, as job <paramref name="jobName"/>.</summary>
    /// <param name="args">The container's command.</param>
    /// <param name="jobName">SCRUN_JOB_NAME, when given.</param>
    /// <param name="rootfs">The root filesystem (the bed's image when not given).</param>
    /// <param name="linkedRootfs">
    /// The root filesystem as <c>&lt;bundle&gt;/rootfs</c>, a symbolic link to it: what Slurm 22.05
    /// runs whatever config.json says, when scrun.lua runs a bundle in place (as Podman's is).
    /// </param>
    public string Bundle(string[] args, string? jobName = null, string? rootfs = null, bool linkedRootfs = false)
    {
        var bundle = Path.Combine(Directory, $"bundle-{Guid.NewGuid().ToString("n")[..8]}");
        System.IO.Directory.CreateDirectory(bundle);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_bed.Bundle, "config.json")))!.AsObject();
        config["root"]!["path"] = rootfs ?? Path.Combine(_bed.Bundle, "rootfs");
        if (linkedRootfs)
        {
            File.CreateSymbolicLink(Path.Combine(bundle, "rootfs"), (string)config["root"]!["path"]!);
            config["root"]!["path"] = Path.Combine(bundle, "rootfs");
        }
        var process = config["process"]!.AsObject();
        process["terminal"] = false;
        process["args"] = new JsonArray([.. args.Select(a => JsonValue.Create(a))]);
        var env = process["env"] as JsonArray ?? [];
        if (jobName is not null)
        {
            env.Add($"SCRUN_JOB_NAME={jobName}");
        }
        process["env"] = env.DeepClone();
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }

    /// <summary>A private copy of the bed's busybox root filesystem with a canary file: an image whose loss a test can see.</summary>
    public string ImageWithCanary()
    {
        var rootfs = Path.Combine(Directory, $"rootfs-{Guid.NewGuid().ToString("n")[..8]}");
        var copy = ProcessRunner.Run("cp", ["-a", Path.Combine(_bed.Bundle, "rootfs"), rootfs]);
        Assert.True(copy.ExitCode == 0, copy.ToString());
        File.WriteAllText(Path.Combine(rootfs, "canary"), "alive");
        return rootfs;
    }

    /// <summary>The image is whole: its canary and as many entries as the bed's rootfs plus the canary.</summary>
    public void AssertIntact(string rootfs)
    {
        Assert.Equal("alive", File.ReadAllText(Path.Combine(rootfs, "canary")));
        Assert.Equal(System.IO.Directory.EnumerateFileSystemEntries(Path.Combine(_bed.Bundle, "rootfs")).Count() + 1,
            System.IO.Directory.EnumerateFileSystemEntries(rootfs).Count());
    }

    public string StdoutOf(string id) => Path.Combine(Directory, $"{id}.out");

    public string StderrOf(string id) => Path.Combine(Directory, $"{id}.err");

    /// <summary>
    /// create with files as stdio, as an engine gives it pipes: the anchor keeps them for the
    /// container, so a pipe here would stay open until the container ends. A failed create's
    /// result carries the stderr file. Quiet (SCRUN_QUIET=1) unless the test says otherwise: what
    /// a test compares on stderr must not depend on whether the bed's node was busy.
    /// </summary>
    /// <remarks><paramref name="wrapper"/> runs create (e.g. "timeout 3"); <paramref name="stdio"/> names its stdio files when not the id.</remarks>
    public ProcessResult Create(string bundle, string id, string[]? flags = null, Dictionary<string, string>? environment = null, string[]? globals = null, string? wrapper = null, string? stdio = null) =>
        WithStdioFiles("create", bundle, id, flags, environment, globals, wrapper, stdio);

    /// <summary><c>run --detach</c>, with files as stdio as <see cref="Create"/> gives them: the anchor keeps them for the container.</summary>
    public ProcessResult RunDetached(string bundle, string id, string[]? flags = null, Dictionary<string, string>? environment = null) =>
        WithStdioFiles("run", bundle, id, ["--detach", .. flags ?? []], environment, globals: null, wrapper: null, stdio: null);

    /// <summary>
    /// <c>run</c> in the foreground, its stdio this test's pipes: the container's output is run's,
    /// and run ends with the container. Quiet, as <see cref="Create"/>.
    /// </summary>
    /// <param name="bundle">The bundle.</param>
    /// <param name="id">The container's id.</param>
    /// <param name="flags">run's flags besides --bundle.</param>
    /// <param name="environment">Variables beside the bed's.</param>
    /// <param name="pidOfRun">A file run's own pid is written to before it starts (a test signals it).</param>
    public ProcessResult Run(string bundle, string id, string[]? flags = null, Dictionary<string, string>? environment = null, string? pidOfRun = null)
    {
        string[] arguments = ["--root", Root, "run", "--bundle", bundle, .. flags ?? [], id];
        var env = QuietEnvironment(environment);
        return pidOfRun is null
            ? ProcessRunner.Run(ScrunBinary.Path, arguments, env, timeout: TimeSpan.FromSeconds(90))
            : ProcessRunner.Run("sh", ["-c", $"echo $$ >'{pidOfRun}'; exec \"$0\" \"$@\"", ScrunBinary.Path, .. arguments], env, timeout: TimeSpan.FromSeconds(90));
    }

    private ProcessResult WithStdioFiles(string verb, string bundle, string id, string[]? flags, Dictionary<string, string>? environment, string[]? globals, string? wrapper, string? stdio)
    {
        var stdout = StdoutOf(stdio ?? id);
        var stderr = StderrOf(stdio ?? id);
        string[] arguments = ["--root", Root, .. globals ?? [], verb, "--bundle", bundle, .. flags ?? [], id];
        var command = $"exec {wrapper} \"$0\" \"$@\" </dev/null >'{stdout}' 2>'{stderr}'";
        var run = ProcessRunner.Run("sh", ["-c", command, ScrunBinary.Path, .. arguments], QuietEnvironment(environment), timeout: TimeSpan.FromSeconds(90));
        return run with { Stderr = File.Exists(stderr) && run.ExitCode != 0 ? File.ReadAllText(stderr) : run.Stderr };
    }

    /// <summary>The bed's environment with SCRUN_QUIET=1, then <paramref name="environment"/>.</summary>
    private Dictionary<string, string> QuietEnvironment(Dictionary<string, string>? environment)
    {
        var env = new Dictionary<string, string>(_bed.Environment) { ["SCRUN_QUIET"] = "1" };
        foreach (var (key, value) in environment ?? [])
        {
            env[key] = value;
        }
        return env;
    }

    public ProcessResult Scrun(params string[] arguments) => ScrunWith([], arguments);

    public ProcessResult ScrunWith(Dictionary<string, string> environment, params string[] arguments)
    {
        var env = new Dictionary<string, string>(_bed.Environment);
        foreach (var (key, value) in environment)
        {
            env[key] = value;
        }
        return ProcessRunner.Run(ScrunBinary.Path, ["--root", Root, .. arguments], env, timeout: TimeSpan.FromSeconds(90));
    }

    public JsonElement State(string id)
    {
        var state = Scrun("state", id);
        Assert.True(state.ExitCode == 0, state.ToString());
        return JsonDocument.Parse(state.Stdout).RootElement.Clone();
    }

    public string Status(string id) => State(id).GetProperty("status").GetString()!;

    public void WaitForStatus(string id, string status) => WaitFor(() => Status(id) == status, $"container {id} to be {status}");

    /// <summary>The state of the newest job of that name (any state), or null when slurmctld has none.</summary>
    public string? JobState(string jobName)
    {
        var squeue = _bed.Run("squeue", "--states=all", "-h", "-n", jobName, "-o", "%T");
        Assert.True(squeue.ExitCode == 0, squeue.ToString());
        return squeue.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim();
    }

    /// <summary>The jobs of that name slurmctld still holds resources for (pending, running, completing...).</summary>
    public IReadOnlyList<string> LiveJobs(string jobName)
    {
        var squeue = _bed.Run("squeue", "-h", "-n", jobName, "-o", "%i %T");
        Assert.True(squeue.ExitCode == 0, squeue.ToString());
        return squeue.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Every job of that name has ended (what "nothing leaked" means in squeue).</summary>
    public void AssertNoLiveJob(string jobName) => WaitFor(() => LiveJobs(jobName).Count == 0, $"no job named {jobName} to remain in squeue");

    public string JobIdOf(string jobName) => _bed.Run("squeue", "--states=all", "-h", "-n", jobName, "-o", "%i").Stdout.Trim();

    /// <summary>A copy of the bed's slurm.conf (and oci.conf) with each line passed through <paramref name="edit"/>.</summary>
    public string SlurmConfWith(Func<string, string> edit)
    {
        var source = _bed.Environment["SLURM_CONF"];
        var directory = Path.Combine(Directory, $"etc-{Guid.NewGuid().ToString("n")[..8]}");
        System.IO.Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "slurm.conf");
        File.WriteAllLines(path, File.ReadAllLines(source).Select(edit));
        File.Copy(Path.Combine(Path.GetDirectoryName(source)!, "oci.conf"), Path.Combine(directory, "oci.conf"));
        return path;
    }

    /// <summary>A refusal: exit 1 and one line "scrun: error: ..." (exactly <paramref name="message"/> when given).</summary>
    public static void AssertRefused(ProcessResult result, string? message)
    {
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Single(result.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("scrun: error: ", result.Stderr);
        if (message is not null)
        {
            Assert.Equal($"scrun: error: {message}\n", result.Stderr);
        }
    }

    public static void WaitFor(Func<bool> condition, string what, int seconds = 60)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); DateTime.UtcNow < deadline; Thread.Sleep(100))
        {
            if (condition())
            {
                return;
            }
        }
        Assert.Fail($"timed out waiting for {what}");
    }

    public void Dispose()
    {
        foreach (var id in _ids)
        {
            Scrun("delete", "--force", id);
        }
        // A mount left by a failed test (a staged rootfs is the bed's image) must not be walked into.
        var mounted = File.ReadLines("/proc/self/mountinfo").Select(line => line.Split(' ')[4])
            .Where(point => point.StartsWith(Directory + "/", StringComparison.Ordinal))
            .OrderByDescending(point => point.Length);
        foreach (var point in mounted)
        {
            ProcessRunner.Run("umount", ["-l", point]);
        }
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
