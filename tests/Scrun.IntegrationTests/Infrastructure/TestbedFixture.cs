using Xunit;

namespace Scrun.IntegrationTests.Infrastructure;

/// <summary>
/// The project's test bed (munged, slurmctld, slurmd, Podman, dockerd on loopback), brought up once
/// per test run by tests/testbed/testbed.sh and reused when already healthy. If it cannot come up,
/// every test that needs it fails with the script's output: nothing is skipped.
/// </summary>
public sealed class TestbedFixture
{
    public TestbedFixture()
    {
        // The bed registers this very binary as the runtime "scrun" of Podman and Docker.
        var up = ProcessRunner.Run(Repository.TestbedScript, ["up", "--docker"],
            new Dictionary<string, string> { ["TESTBED_SCRUN"] = ScrunBinary.Path }, timeout: TimeSpan.FromMinutes(20));
        if (up.ExitCode != 0)
        {
            throw new InvalidOperationException($"the test bed did not come up ({Repository.TestbedScript} up --docker):\n{up}");
        }
        var env = ProcessRunner.Run(Repository.TestbedScript, ["env"]);
        if (env.ExitCode != 0)
        {
            throw new InvalidOperationException($"testbed.sh env failed:\n{env}");
        }
        Environment = env.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0], pair => pair[1]);
        File.Delete(ScriptPath); // one a crashed run left would stage every container through it
    }

    /// <summary>Where the bed's slurm.conf directory takes a site's scrun.lua (/etc/slurm/scrun.lua links to it).</summary>
    public string ScriptPath => Path.Combine(Environment["TESTBED_DIR"], "etc", "scrun.lua");

    /// <summary>Installs <paramref name="source"/> as the bed's scrun.lua until disposed (bed tests run one at a time).</summary>
    public IDisposable InstallScript(string source)
    {
        File.WriteAllText(ScriptPath, source);
        return new Removal(ScriptPath);
    }

    private sealed class Removal(string path) : IDisposable
    {
        public void Dispose() => File.Delete(path);
    }

    /// <summary>What a client of the bed needs in its environment (SLURM_CONF, CONTAINERS_CONF, DOCKER_HOST, ...).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    public string Bundle => Environment["TESTBED_BUNDLE"];

    public string Image => Environment["TESTBED_IMAGE"];

    public string DockerCli => Environment["TESTBED_DOCKER_CLI"];

    public ProcessResult Run(string file, params string[] arguments) => Run(file, arguments, stdin: null);

    public ProcessResult Run(string file, IEnumerable<string> arguments, string? stdin, TimeSpan? timeout = null) =>
        ProcessRunner.Run(file, arguments, Environment, stdin, timeout);
}

[CollectionDefinition(Name)]
public sealed class TestbedCollection : ICollectionFixture<TestbedFixture>, ICollectionFixture<SlurmClustersFixture>, ICollectionFixture<RootlessFixture>
{
    public const string Name = "testbed";
}
