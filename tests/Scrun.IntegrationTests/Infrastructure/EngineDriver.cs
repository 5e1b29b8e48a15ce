using Xunit;

namespace Scrun.IntegrationTests.Infrastructure;

/// <summary>A container's Slurm job as squeue shows it.</summary>
public sealed record EngineJob(string Id, string State, string Nodes, string User, string TimeLimit);

/// <summary>
/// Podman or Docker as one caller runs them (root with the bed's environment, or a rootless
/// user), and the Slurm jobs their containers become: what every engine test needs, whoever
/// runs the engine. Removes the containers it started when disposed.
/// </summary>
public sealed class EngineDriver(Func<IReadOnlyList<string>, string?, TimeSpan, ProcessResult> run, SlurmClustersFixture clusters) : IDisposable
{
    private readonly List<(string Engine, string Name)> _started = [];

    /// <summary>Runs the engine's command line (<c>podman ...</c>, <c>docker ...</c>).</summary>
    public ProcessResult Engine(string engine, IEnumerable<string> arguments, string? stdin = null, TimeSpan? timeout = null) =>
        run([engine, .. arguments], stdin, timeout ?? TimeSpan.FromMinutes(2));

    public ProcessResult Engine(string engine, params string[] arguments) => Engine(engine, (IEnumerable<string>)arguments);

    /// <summary>A container name the driver removes at the end, whatever the test did with it.</summary>
    public string NewName(string engine)
    {
        var name = UniqueName(engine);
        _started.Add((engine, name));
        return name;
    }

    /// <summary><c>run -d</c> of <c>sh -c <paramref name="script"/></c>; <paramref name="runFlags"/> go first (the runtime, say).</summary>
    public string StartDetached(string engine, string image, string script, IEnumerable<string> runFlags)
    {
        var name = NewName(engine);
        var started = Engine(engine, ["run", .. runFlags, "-d", "--name", name, image, "sh", "-c", script]);
        Assert.True(started.ExitCode == 0, started.ToString());
        return name;
    }

    /// <summary>The container's exit code, from <c>wait</c>.</summary>
    public string Wait(string engine, string name)
    {
        var wait = Engine(engine, ["wait", name], timeout: TimeSpan.FromSeconds(60));
        Assert.True(wait.ExitCode == 0, wait.ToString());
        return wait.Stdout.Trim();
    }

    public void WaitForLog(string engine, string name, string text)
    {
        var logs = new ProcessResult(0, "", "");
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; Thread.Sleep(100))
        {
            logs = Engine(engine, "logs", name);
            if (logs.Stdout.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
        }
        Assert.Fail($"'{text}' never reached the logs of {name}:\n{logs}");
    }

    public EngineJob? FindJob(string jobName, string release)
    {
        var squeue = clusters.Clusters[release].Tool("squeue", "--states=all", "-h", "-n", jobName, "-o", "%i|%T|%N|%u|%l");
        Assert.True(squeue.ExitCode == 0, squeue.ToString());
        var fields = squeue.Stdout.Trim().Split('|');
        return fields.Length == 5 ? new EngineJob(fields[0], fields[1], fields[2], fields[3], fields[4]) : null;
    }

    public EngineJob WaitForJob(string jobName, Func<string, bool> state, string release)
    {
        EngineJob? record = null;
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

    public static string UniqueName(string prefix) => $"scrun-{prefix}-{Guid.NewGuid().ToString("n")[..8]}";

    public void Dispose()
    {
        foreach (var (engine, name) in _started)
        {
            Engine(engine, "rm", "-f", name);
        }
    }
}
