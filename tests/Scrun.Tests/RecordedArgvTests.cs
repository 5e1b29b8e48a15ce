using Scrun.Containers;
using System.Text.Json;
using Scrun.Cli;
using Xunit;

namespace Scrun.Tests;

/// <summary>
/// Every argv that Podman (conmon), podman build (Buildah), Docker (containerd-shim) and slurmstepd were recorded passing
/// to a runtime must parse, and the values must land in the right fields.
/// </summary>
public class RecordedArgvTests
{
    private static readonly string[] s_verbs = ["create", "run", "start", "state", "kill", "delete", "exec", "pause", "resume", "version", "features"];

    public static TheoryData<string, string> RecordedArgv()
    {
        var data = new TheoryData<string, string>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "TestData", "recorded-argv.tsv")))
        {
            if (line.StartsWith('#') || line.Length == 0)
            {
                continue;
            }
            var tab = line.IndexOf('\t');
            data.Add(line[..tab], line[(tab + 1)..]);
        }
        return data;
    }

    [Fact]
    public void The_recorded_corpus_covers_every_caller()
    {
        var sources = RecordedArgv().Select(row => (string)row[0]).Distinct().ToList();
        Assert.Contains("podman-calls.log", sources);
        Assert.Contains("docker-calls.log", sources);
        Assert.Contains("podman-rootless-calls.log", sources);
        Assert.Contains("docker-rootless-calls.log", sources);
        Assert.Contains("podman-build-calls.log", sources);
        Assert.Contains("podman-build-rootless-calls.log", sources);
        Assert.Contains("oci-run.log", sources);
        Assert.True(RecordedArgv().Count() > 300);
    }

    [Theory]
    [MemberData(nameof(RecordedArgv))]
    public void Recorded_argv_parses_into_the_verb_and_values_it_carries(string source, string argvJson)
    {
        var argv = JsonSerializer.Deserialize<string[]>(argvJson)!;
        var outcome = new ScrunCommandLine().Parse(argv);

        var run = Assert.IsType<CommandLineOutcome.Run>(outcome);
        Assert.False(string.IsNullOrEmpty(source));
        var verbIndex = Array.FindIndex(argv, s_verbs.Contains);
        if (verbIndex < 0)
        {
            Assert.Equal(["--version"], argv);
            Assert.IsType<VersionOptions>(run.Verb);
            return;
        }
        Assert.Equal(argv[verbIndex], run.Verb.Verb);

        var globals = argv[..verbIndex];
        Assert.Equal(ValueOf(globals, "--root"), run.Global.Root);
        Assert.Equal(ValueOf(globals, "--log"), run.Global.Log.File);
        Assert.Equal(ValueOf(globals, "--log-format") == "json" ? LogFormat.Json : LogFormat.Text, run.Global.Log.Format);

        var verbArgs = argv[(verbIndex + 1)..];
        var container = Assert.IsAssignableFrom<ContainerVerbOptions>(run.Verb);
        switch (run.Verb)
        {
            case CreateOptions create:
                Assert.Equal(verbArgs[^1], create.ContainerId.Value);
                Assert.Equal(ValueOf(verbArgs, "--bundle"), create.Bundle);
                Assert.Equal(ValueOf(verbArgs, "--pid-file"), create.PidFile);
                Assert.Equal(ValueOf(verbArgs, "--console-socket"), create.ConsoleSocket);
                break;
            case RunOptions runVerb:
                Assert.Equal(verbArgs[^1], runVerb.ContainerId.Value);
                Assert.Equal(ValueOf(verbArgs, "--bundle"), runVerb.Create.Bundle);
                break;
            case KillOptions kill:
                var positional = verbArgs.Where(a => !a.StartsWith('-')).ToArray();
                Assert.Equal(positional[0], kill.ContainerId.Value);
                Assert.Equal(positional.Length > 1 ? int.Parse(positional[1]) : 15, kill.Signal.Number);
                Assert.Equal(verbArgs.Contains("--all"), kill.All);
                break;
            case DeleteOptions delete:
                Assert.Equal(verbArgs[^1], delete.ContainerId.Value);
                Assert.Equal(verbArgs.Contains("--force"), delete.Force);
                break;
            case ExecOptions exec:
                Assert.Equal(verbArgs[^1], exec.ContainerId.Value);
                Assert.Equal(ValueOf(verbArgs, "--process"), exec.ProcessFile);
                Assert.Equal(ValueOf(verbArgs, "--pid-file"), exec.PidFile);
                Assert.Equal(verbArgs.Contains("--detach"), exec.Detach);
                break;
            default:
                Assert.Equal(verbArgs[^1], container.ContainerId.Value);
                break;
        }
    }

    private static string? ValueOf(string[] args, string flag)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == flag && i + 1 < args.Length)
            {
                return args[i + 1];
            }
            if (args[i].StartsWith(flag + "=", StringComparison.Ordinal))
            {
                return args[i][(flag.Length + 1)..];
            }
        }
        return null;
    }
}
