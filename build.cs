#!/usr/bin/env -S dotnet run
// scrun's build logic, a .NET 10 file-based app:  dotnet run build.cs -- <target> [args]
// Targets: build, test, install, publish, testbed-up, testbed-down, demo, bench.
using System.Diagnostics;
using System.Xml.Linq;

var repo = (string?)AppContext.GetData("EntryPointFileDirectoryPath") ?? Directory.GetCurrentDirectory();
var publishDir = Path.Combine(repo, "artifacts", "publish", "scrun");
var scrun = Path.Combine(publishDir, "scrun");
var testResults = Path.Combine(repo, "artifacts", "test-results");
var testbed = Path.Combine(repo, "tests", "testbed", "testbed.sh");
var rootless = Path.Combine(repo, "tests", "testbed", "rootless.sh");

var targets = new Dictionary<string, (string Help, Func<string[], int> Run)>
{
    ["build"] = ("compile the solution (warnings are errors)", _ => Build()),
    ["publish"] = ("publish the native-AOT scrun to artifacts/publish/scrun/", _ => Publish()),
    ["test"] = ("install what is missing, publish, run every test (unit + test bed); prints 'N passed, N failed, N skipped'", Test),
    ["install"] = ("install the Debian packages the build, the bed and the tests need (root; one dpkg-query when nothing is missing)", _ => Install()),
    ["testbed-up"] = ("bring up munged, slurmctld, slurmd, Podman and dockerd on loopback (root)", _ => Sh(testbed, "up", "--docker")),
    ["testbed-down"] = ("stop what testbed-up started (by recorded PID only)", _ => Sh(testbed, "down")),
    ["demo"] = ("install what is missing, publish scrun, bring up the bed, run a container through Slurm with rootless Podman and rootless Docker", _ => Demo()),
    ["bench"] = ("startup of a verb vs /bin/true; allocate+complete vs salloc+scancel on the bed", _ => Bench()),
};

var target = args.Length > 0 ? args[0] : "build";
if (!targets.TryGetValue(target, out var chosen))
{
    var known = target is "help" or "--help" or "-h";
    Console.Error.WriteLine(known ? "usage: dotnet run build.cs -- <target>. Targets:" : $"build.cs: unknown target '{target}'. Targets:");
    foreach (var (name, (help, _)) in targets)
    {
        Console.Error.WriteLine($"  {name,-13} {help}");
    }
    return known ? 0 : 2;
}
return chosen.Run(args[1..]);

int Build() => Dotnet("build", Path.Combine(repo, "Scrun.sln"), "-c", "Release", "-nologo", "-clp:NoSummary");

int Install() => Sh(testbed, "install");

int Publish()
{
    // The native link takes Lua from Debian's liblua5.4-dev: say so rather than let ld fail.
    if (!File.Exists("/usr/lib/x86_64-linux-gnu/liblua5.4.a"))
    {
        Console.Error.WriteLine("build.cs: /usr/lib/x86_64-linux-gnu/liblua5.4.a is missing: 'dotnet run build.cs -- install' (as root) installs liblua5.4-dev and the rest");
        return 1;
    }
    var rc = Dotnet("publish", Path.Combine(repo, "src", "Scrun", "Scrun.csproj"), "-c", "Release", "-nologo", "-o", publishDir);
    if (rc == 0)
    {
        Console.WriteLine($"published {scrun} ({new FileInfo(scrun).Length / 1024} KiB)");
    }
    return rc;
}

int Test(string[] extra)
{
    var rc = Install();
    rc = rc == 0 ? Publish() : rc;
    if (rc != 0)
    {
        Console.WriteLine("0 passed, 1 failed, 0 skipped");
        return rc;
    }
    if (Directory.Exists(testResults))
    {
        Directory.Delete(testResults, recursive: true);
    }
    Environment.SetEnvironmentVariable("SCRUN_BIN", scrun);
    rc = Dotnet(["test", Path.Combine(repo, "Scrun.sln"), "-c", "Release", "-nologo",
        "--logger", "trx", "--logger", "console;verbosity=minimal", "--results-directory", testResults, .. extra]);
    var (passed, failed, skipped) = CountTrx(testResults);
    if (rc != 0 && failed == 0)
    {
        failed = 1; // the run itself broke (build error, crashed host): never report it as green
    }
    Console.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped");
    return failed == 0 ? 0 : 1;
}

int Demo()
{
    // Packages first (the native link needs liblua5.4-dev), then publish: the bed registers
    // artifacts/publish/scrun/scrun as the runtime of its engines, the rootless ones included.
    var rc = Install();
    rc = rc == 0 ? Publish() : rc;
    rc = rc == 0 ? Sh(testbed, "up", "--docker") : rc;
    rc = rc == 0 ? Sh(rootless, "up", "--docker") : rc;
    if (rc != 0)
    {
        return rc;
    }
    var env = ReadTestbedEnv();
    var image = env["TESTBED_IMAGE"];
    const string user = "scrun-tb";
    foreach (var engine in new[] { "podman", "docker" })
    {
        var command = $"{engine} run --rm {image} sh -c 'echo hello from $(hostname), uid $(id -u)'";
        Console.WriteLine();
        Console.WriteLine($"$ {command}   # as {user}, rootless {engine}: a Slurm job on node n1");
        // Without the warnings the engines print on their own here: Podman's for the host's PID
        // namespace without cgroups (Slurm's recommended containers.conf), Docker's for no IP forwarding.
        rc = Run("bash", ["-o", "pipefail", "-c", $"{rootless} as {user} {command} 2>&1 | grep -v -e 'level=warning' -e 'IPv4 forwarding is disabled'"]);
        if (rc != 0)
        {
            return rc;
        }
    }
    Console.WriteLine();
    const string newestJobs = "squeue --states=all --sort=-i --format='%i %j %T %N %u' | head -3";
    Console.WriteLine($"$ {newestJobs}   # the jobs they became, owned by {user}");
    return Run("sh", ["-c", newestJobs], env);
}

int Bench()
{
    var rc = Install();
    rc = rc == 0 ? Publish() : rc;
    rc = rc == 0 ? Sh(testbed, "up", "--docker") : rc;
    rc = rc == 0 ? Run(Path.Combine(repo, "bench", "startup.sh"), [scrun]) : rc;
    rc = rc == 0 ? Run(Path.Combine(repo, "bench", "containers.sh"), ["15"]) : rc;
    return rc == 0
        ? Run("dotnet", ["run", "--project", Path.Combine(repo, "bench", "Scrun.Bench"), "-c", "Release", "--", "20"], ReadTestbedEnv())
        : rc;
}

Dictionary<string, string> ReadTestbedEnv()
{
    var psi = new ProcessStartInfo(testbed, "env") { RedirectStandardOutput = true };
    using var process = Process.Start(psi)!;
    var env = new Dictionary<string, string>();
    foreach (var line in process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries))
    {
        var eq = line.IndexOf('=');
        if (eq > 0)
        {
            env[line[..eq]] = line[(eq + 1)..];
        }
    }
    process.WaitForExit();
    return env;
}

(int Passed, int Failed, int Skipped) CountTrx(string directory)
{
    int passed = 0, failed = 0, skipped = 0;
    if (!Directory.Exists(directory))
    {
        return (0, 0, 0);
    }
    foreach (var trx in Directory.EnumerateFiles(directory, "*.trx", SearchOption.AllDirectories))
    {
        foreach (var counters in XDocument.Load(trx).Descendants().Where(e => e.Name.LocalName == "Counters"))
        {
            int Read(string name) => int.TryParse((string?)counters.Attribute(name), out var n) ? n : 0;
            passed += Read("passed");
            failed += Read("failed") + Read("error") + Read("timeout") + Read("aborted");
            skipped += Read("total") - Read("executed");
        }
    }
    return (passed, failed, skipped);
}

int Dotnet(params string[] arguments) => Run("dotnet", arguments);

int Sh(string script, params string[] arguments) => Run(script, arguments);

int Run(string file, string[] arguments, IReadOnlyDictionary<string, string>? env = null)
{
    var psi = new ProcessStartInfo(file) { WorkingDirectory = repo };
    foreach (var argument in arguments)
    {
        psi.ArgumentList.Add(argument);
    }
    foreach (var (key, value) in env ?? new Dictionary<string, string>())
    {
        psi.Environment[key] = value;
    }
    using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
    process.WaitForExit();
    return process.ExitCode;
}
