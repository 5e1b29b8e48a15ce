namespace Scrun.IntegrationTests.Infrastructure;

/// <summary>
/// The bed's rootless engines (tests/testbed/rootless.sh): a user running rootless Podman and
/// rootless Docker with scrun as their default runtime, and a second user, the stranger. Brought
/// up once per run after the clusters they use (the engines' namespaces must see the chroots'
/// mounts), reused when healthy.
/// </summary>
public sealed class RootlessFixture
{
    public RootlessFixture()
    {
        var binary = new Dictionary<string, string> { ["TESTBED_SCRUN"] = ScrunBinary.Path };
        var bed = ProcessRunner.Run(Repository.TestbedScript, ["up", "--docker"], binary, timeout: TimeSpan.FromMinutes(20));
        Require(bed, "testbed.sh up --docker");
        var newer = Path.Combine(Repository.Root, "tests", "testbed", "newer-slurm.sh");
        foreach (var up in new[] { "24.11", "26.05" }.Select(r => Task.Run(() => ProcessRunner.Run(newer, ["up", r], timeout: TimeSpan.FromMinutes(20)))).ToArray())
        {
            Require(up.Result, "newer-slurm.sh up");
        }
        Require(ProcessRunner.Run(Script, ["up", "--docker"], binary, timeout: TimeSpan.FromMinutes(10)), "rootless.sh up --docker");
        var env = ProcessRunner.Run(Script, ["env"]);
        Require(env, "rootless.sh env");
        var values = env.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        User = values["TESTBED_ROOTLESS_USER"];
        Uid = uint.Parse(values["TESTBED_ROOTLESS_UID"]);
        OtherUser = values["TESTBED_ROOTLESS_OTHER_USER"];
        OtherUid = uint.Parse(values["TESTBED_ROOTLESS_OTHER_UID"]);
        Scrun = values["TESTBED_ROOTLESS_SCRUN"];
    }

    public static string Script => Path.Combine(Repository.Root, "tests", "testbed", "rootless.sh");

    /// <summary>The user of the rootless engines.</summary>
    public string User { get; }

    public uint Uid { get; }

    /// <summary>Another ordinary user, with no engine: the one whose attempts must be refused.</summary>
    public string OtherUser { get; }

    public uint OtherUid { get; }

    /// <summary>The scrun binary both users can run (a copy of the one under test).</summary>
    public string Scrun { get; }

    /// <summary>Runs a command as <paramref name="user"/>, in the session a login gives it (HOME, XDG_RUNTIME_DIR, DOCKER_HOST).</summary>
    public ProcessResult As(string user, IEnumerable<string> command, string? stdin = null, TimeSpan? timeout = null) =>
        ProcessRunner.Run(Script, ["as", user, .. command], stdin: stdin, timeout: timeout ?? TimeSpan.FromMinutes(2));

    /// <summary>The same, as a shell command line (for script(1), which wants one).</summary>
    public string AsCommandLine(string user) => $"{Script} as {user}";

    private static void Require(ProcessResult result, string what)
    {
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} failed:\n{result}");
        }
    }
}
