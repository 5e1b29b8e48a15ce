using Scrun.Containers;
using Scrun.Cli;
using Xunit;

namespace Scrun.Tests;

public class CommandLineTests
{
    private static CommandLineOutcome Parse(params string[] args) => new ScrunCommandLine().Parse(args);

    private static CommandLineOutcome.Run Parsed(params string[] args) => Assert.IsType<CommandLineOutcome.Run>(Parse(args));

    private static string Rejected(params string[] args)
    {
        var invalid = Assert.IsType<CommandLineOutcome.Invalid>(Parse(args));
        Assert.DoesNotContain('\n', invalid.Message);
        return invalid.Message;
    }

    [Fact]
    public void A_global_flag_given_twice_is_one_line_not_a_crash()
    {
        Assert.Contains("--root", Rejected("--root", "/a", "--root", "/b", "state", "x"));
    }

    [Fact]
    public void Docker_create_carries_every_value()
    {
        var run = Parsed("--root", "/run/docker/runtime-runc/moby", "--log", "/t/log.json", "--log-format", "json",
            "create", "--bundle", "/t", "--pid-file", "/t/init.pid", "--console-socket", "/tmp/pty1/pty.sock", "abc");
        Assert.Equal("/run/docker/runtime-runc/moby", run.Global.Root);
        Assert.Equal("/t/log.json", run.Global.Log.File);
        Assert.Equal(LogFormat.Json, run.Global.Log.Format);
        var create = Assert.IsType<CreateOptions>(run.Verb);
        Assert.Equal("abc", create.ContainerId.Value);
        Assert.Equal("/t", create.Bundle);
        Assert.Equal("/t/init.pid", create.PidFile);
        Assert.Equal("/tmp/pty1/pty.sock", create.ConsoleSocket);
    }

    [Fact]
    public void Create_accepts_short_bundle_and_runc_only_flags()
    {
        var create = Assert.IsType<CreateOptions>(Parsed("create", "-b", "/b", "--no-pivot", "--no-new-keyring", "--preserve-fds", "2", "x").Verb);
        Assert.Equal("/b", create.Bundle);
        Assert.True(create.NoPivot);
        Assert.True(create.NoNewKeyring);
        Assert.Equal(2, create.PreserveFds);
        Assert.Equal(3, Assert.IsType<CreateOptions>(Parsed("create", "--preserve-fds=3", "x").Verb).PreserveFds);
    }

    [Fact]
    public void Run_takes_creates_flags_and_its_own()
    {
        var run = Assert.IsType<RunOptions>(Parsed("run", "-b", "/b", "--pid-file", "/p", "--console-socket", "/s", "-d", "--keep", "x").Verb);
        Assert.Equal("x", run.ContainerId.Value);
        Assert.Equal(("/b", "/p", "/s"), (run.Create.Bundle, run.Create.PidFile, run.Create.ConsoleSocket));
        Assert.True(run.Detach);
        Assert.True(run.Keep);
        var foreground = Assert.IsType<RunOptions>(Parsed("run", "x").Verb);
        Assert.False(foreground.Detach);
        Assert.False(foreground.Keep);
        Assert.True(Assert.IsType<RunOptions>(Parsed("run", "--detach", "x").Verb).Detach);
    }

    [Fact]
    public void Create_without_bundle_leaves_it_to_the_verb()
    {
        Assert.Null(Assert.IsType<CreateOptions>(Parsed("create", "x").Verb).Bundle);
    }

    [Fact]
    public void Podman_log_format_with_equals_sign()
    {
        var run = Parsed("--log-format=json", "--log", "/u/oci-log", "create", "--bundle", "/u", "--pid-file", "/u/pidfile", "c1");
        Assert.Equal(LogFormat.Json, run.Global.Log.Format);
        Assert.Equal("/u/oci-log", run.Global.Log.File);
    }

    [Fact]
    public void Global_flags_accepted_and_recorded_as_ignored()
    {
        var run = Parsed("--systemd-cgroup", "--cgroup-manager", "cgroupfs", "--rootless", "auto", "-f", "/etc/x.conf", "--debug", "state", "x");
        Assert.Equal(["--systemd-cgroup", "--cgroup-manager cgroupfs", "--rootless auto"], run.Global.IgnoredFlags);
        Assert.Equal("/etc/x.conf", run.Global.SlurmConf);
        Assert.True(run.Global.Log.Debug);
    }

    [Theory]
    [InlineData(0, new string[] { "state", "x" })]
    [InlineData(1, new[] { "-v", "state", "x" })]
    [InlineData(2, new[] { "-v", "-v", "state", "x" })]
    [InlineData(3, new[] { "-vvv", "state", "x" })]
    public void Verbosity_counts_every_v(int expected, string[] args)
    {
        Assert.Equal(expected, Parsed(args).Global.Log.Verbosity);
    }

    [Theory]
    [InlineData(new[] { "kill", "x" }, 15)]
    [InlineData(new[] { "kill", "x", "9" }, 9)]
    [InlineData(new[] { "kill", "x", "KILL" }, 9)]
    [InlineData(new[] { "kill", "x", "SIGKILL" }, 9)]
    [InlineData(new[] { "kill", "x", "sigusr1" }, 10)]
    [InlineData(new[] { "kill", "--all", "x", "15" }, 15)]
    [InlineData(new[] { "kill", "-a", "x", "HUP" }, 1)]
    public void Kill_signal_forms(string[] args, int signal)
    {
        var kill = Assert.IsType<KillOptions>(Parsed(args).Verb);
        Assert.Equal(signal, kill.Signal.Number);
        Assert.Equal(args.Contains("--all") || args.Contains("-a"), kill.All);
    }

    [Theory]
    [InlineData("--force")]
    [InlineData("-f")]
    public void Delete_force_both_spellings(string flag)
    {
        Assert.True(Assert.IsType<DeleteOptions>(Parsed("delete", flag, "x").Verb).Force);
        Assert.False(Assert.IsType<DeleteOptions>(Parsed("delete", "x").Verb).Force);
    }

    [Fact]
    public void Exec_with_a_command_after_the_id()
    {
        var exec = Assert.IsType<ExecOptions>(Parsed("exec", "-t", "--env", "A=1", "--env", "B=2", "--cwd", "/w", "x", "sh", "-c", "echo hi").Verb);
        Assert.True(exec.Tty);
        Assert.Equal(["A=1", "B=2"], exec.Env);
        Assert.Equal("/w", exec.Cwd);
        Assert.Equal(["sh", "-c", "echo hi"], exec.Command);
    }

    /// <summary>As runc reads it: exec's flags end at the container's id, the command's own flags are the command's.</summary>
    [Fact]
    public void Exec_takes_the_commands_flags_as_the_commands()
    {
        var exec = Assert.IsType<ExecOptions>(Parsed("--log-format", "json", "exec", "--env", "PATH=/bin", "-u", "0", "x", "test", "-e", "/f", "-u", "--cwd").Verb);
        Assert.Equal(["PATH=/bin"], exec.Env);
        Assert.Equal("0", exec.User);
        Assert.Null(exec.Cwd);
        Assert.Equal(["test", "-e", "/f", "-u", "--cwd"], exec.Command);
        var separated = Assert.IsType<ExecOptions>(Parsed("exec", "x", "--", "ls", "-l").Verb);
        Assert.Equal(["ls", "-l"], separated.Command);
        Assert.Equal(["x"], [Assert.IsType<ExecOptions>(Parsed("exec", "--process", "p.json", "x").Verb).ContainerId.Value]);
    }

    [Theory]
    [InlineData(new[] { "version" }, typeof(VersionOptions))]
    [InlineData(new[] { "--version" }, typeof(VersionOptions))]
    [InlineData(new[] { "-V" }, typeof(VersionOptions))]
    [InlineData(new[] { "features" }, typeof(FeaturesOptions))]
    [InlineData(new[] { "pause", "x" }, typeof(PauseOptions))]
    [InlineData(new[] { "resume", "x" }, typeof(ResumeOptions))]
    [InlineData(new[] { "start", "x" }, typeof(StartOptions))]
    [InlineData(new[] { "state", "x" }, typeof(StateOptions))]
    public void Every_verb_is_reachable(string[] args, Type verb)
    {
        Assert.IsType(verb, Parsed(args).Verb);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("create --help")]
    [InlineData("kill -h")]
    [InlineData("features --help")]
    public void Help_is_recognised_everywhere(string commandLine)
    {
        Assert.IsType<CommandLineOutcome.Help>(Parse(commandLine.Split(' ')));
    }

    [Theory]
    [InlineData("unknown verb 'frobnicate'", new[] { "frobnicate" })]
    [InlineData("unknown verb 'checkpoint'", new[] { "checkpoint", "x" })]
    [InlineData("unknown flag '--bogus'", new[] { "--bogus", "state", "x" })]
    [InlineData("unknown flag '--bogus'", new[] { "state", "--bogus", "x" })]
    [InlineData("unknown flag '--bogus'", new[] { "create", "--bundle", "/b", "--bogus", "x" })]
    [InlineData("unexpected argument 'y'", new[] { "state", "x", "y" })]
    [InlineData("unexpected argument '15'", new[] { "kill", "x", "9", "15" })]
    [InlineData("Required argument 'container-id' missing", new[] { "start" })]
    [InlineData("Required argument 'container-id' missing", new[] { "create", "--bundle", "/b" })]
    [InlineData("no verb given", new string[0])]
    [InlineData("unknown log format 'xml'", new[] { "--log-format", "xml", "state", "x" })]
    [InlineData("invalid --rootless value 'create'", new[] { "--rootless", "create", "x" })]
    [InlineData("--preserve-fds must not be negative", new[] { "create", "--preserve-fds", "-1", "x" })]
    [InlineData("invalid signal \"0\"", new[] { "kill", "x", "0" })]
    [InlineData("invalid signal \"65\"", new[] { "kill", "x", "65" })]
    [InlineData("invalid signal \"9abc\"", new[] { "kill", "x", "9abc" })]
    [InlineData("invalid signal \"NOPE\"", new[] { "kill", "x", "NOPE" })]
    public void Bad_command_lines_are_one_line_errors(string expected, string[] args)
    {
        Assert.StartsWith(expected, Rejected(args));
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("a/b")]
    [InlineData("/abs")]
    [InlineData("a..b")]
    [InlineData("a b")]
    [InlineData("a\nb")]
    [InlineData("\u00e9t\u00e9")]
    [InlineData("a\0b")]
    public void Hostile_ids_are_rejected_by_every_verb(string id)
    {
        foreach (var verb in new[] { "create", "start", "state", "kill", "delete", "exec", "pause", "resume", "run" })
        {
            Assert.Contains("container id", Rejected(verb, id));
        }
    }

    [Fact]
    public void An_empty_id_is_rejected()
    {
        Assert.Contains("container id cannot be empty", Rejected("state", ""));
    }

    [Fact]
    public void Ids_up_to_255_bytes_pass_and_longer_ones_do_not()
    {
        Assert.Equal(255, Assert.IsType<StateOptions>(Parsed("state", new string('a', 255)).Verb).ContainerId.Value.Length);
        Assert.Contains("longer than 255", Rejected("state", new string('a', 256)));
    }

    [Fact]
    public void At_sign_arguments_stay_literal()
    {
        Assert.Equal("@/tmp/bundle", Assert.IsType<CreateOptions>(Parsed("create", "--bundle", "@/tmp/bundle", "x").Verb).Bundle);
    }
}
