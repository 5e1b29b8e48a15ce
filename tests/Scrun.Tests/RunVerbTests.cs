using System.Diagnostics;
using System.Runtime.InteropServices;
using Scrun.Cli;
using Scrun.Containers;
using Scrun.Logging;
using Scrun.Slurm.Interop;
using Scrun.Verbs;
using Xunit;

namespace Scrun.Tests;

/// <summary>run without Slurm: what it takes from create, what it refuses before anything is made, and how it passes signals on.</summary>
public sealed class RunVerbTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-run-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Run_creates_the_container_as_create_would_with_the_same_flags()
    {
        string[] flags = ["--bundle", "/b", "--pid-file", "/p/pid", "--console-socket", "/s/sock", "--no-pivot", "c1"];
        var create = Assert.IsType<CommandLineOutcome.Run>(new ScrunCommandLine().Parse(["--root", "/r", "--log", "/l", "-f", "/etc/x.conf", "create", .. flags]));
        var run = Assert.IsType<CommandLineOutcome.Run>(new ScrunCommandLine().Parse(["--root", "/r", "--log", "/l", "-f", "/etc/x.conf", "run", .. flags]));

        var launch = LifecycleVerbs.LaunchOf(run.Global, Assert.IsType<RunOptions>(run.Verb).Create);
        Assert.Equal(LifecycleVerbs.LaunchOf(create.Global, Assert.IsType<CreateOptions>(create.Verb)), launch);
        Assert.Equal(("c1", "/b", "/p/pid", "/s/sock", "/etc/x.conf", "/l"), (launch.Id, launch.Bundle, launch.PidFile, launch.ConsoleSocket, launch.SlurmConf, launch.Log.File));
    }

    [Fact]
    public void Preserved_descriptors_are_refused_by_run_before_anything_is_made()
    {
        var root = Path.Combine(_directory, "root");
        var (exitCode, stderr) = RunVerb(["--root", root, "run", "--preserve-fds", "1", "--bundle", _directory, "c1"]);
        Assert.Equal(1, exitCode);
        Assert.Equal("scrun: error: --preserve-fds 1: file descriptors cannot be passed to a container that runs on a compute node\n", stderr);
        Assert.False(Directory.Exists(root));
    }

    /// <summary>runc's run would relay its own terminal; scrun's has none to give, and a terminal nobody holds would swallow the container's output.</summary>
    [Fact]
    public async Task A_terminal_without_a_console_socket_is_refused_by_run_before_anything_is_made()
    {
        var rootfs = Directory.CreateDirectory(Path.Combine(_directory, "bundle", "rootfs")).FullName;
        var shell = Path.Combine(Directory.CreateDirectory(Path.Combine(rootfs, "bin")).FullName, "sh");
        File.WriteAllText(shell, "");
        File.SetUnixFileMode(shell, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(rootfs, "..", "config.json"),
            """{"ociVersion":"1.0.2","process":{"terminal":true,"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}""");
        var conf = Path.Combine(_directory, "slurm.conf");
        File.WriteAllText(conf, "ClusterName=fake\nSlurmctldHost=fake(127.0.0.1)\nSlurmctldPort=1\n");
        var root = Path.Combine(_directory, "root");

        var refused = await Assert.ThrowsAsync<ContainerException>(() => new ContainerLifecycle(root).CreateAttachedAsync(
            new LaunchContext { Id = "c1", Bundle = Path.GetDirectoryName(rootfs)! },
            new Dictionary<string, string> { ["SLURM_CONF"] = conf }));
        Assert.StartsWith("process.terminal without --console-socket", refused.Message);
        Assert.False(Directory.Exists(root));
    }

    [Fact]
    public void Signals_scrun_has_no_name_for_are_registered_by_number()
    {
        Assert.Equal(PosixSignal.SIGTERM, ForwardedSignals.PosixSignalOf(Signal.Terminate));
        Assert.Equal(PosixSignal.SIGQUIT, ForwardedSignals.PosixSignalOf(Signal.Quit));
        Assert.Equal((PosixSignal)10, ForwardedSignals.PosixSignalOf(Signal.User1));
        Assert.Equal((PosixSignal)12, ForwardedSignals.PosixSignalOf(Signal.User2));
    }

    /// <summary>
    /// The signals this process receives reach the container in order, one failing to does not
    /// stop the next, and once stopped they are taken and dropped: the process lives on to delete
    /// the container.
    /// </summary>
    [Fact]
    public async Task Received_signals_are_passed_on_in_order_then_dropped_once_stopped()
    {
        var passed = new List<Signal>();
        var two = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (var signals = new ForwardedSignals(signal =>
        {
            int count;
            lock (passed)
            {
                passed.Add(signal);
                count = passed.Count;
            }
            if (count == 2)
            {
                two.TrySetResult();
            }
            return count == 1 ? Task.FromException(new ContainerException("container not running")) : Task.CompletedTask;
        }, Serilog.Core.Logger.None))
        {
            SendToSelf("USR1");
            await WaitForCount(passed, 1);
            SendToSelf("USR2");
            await two.Task.WaitAsync(TimeSpan.FromSeconds(10));
            signals.Stop();
            SendToSelf("USR1");
            await Task.Delay(300); // time for a signal that would be passed on, or would end the process
        }
        Assert.Equal([Signal.User1, Signal.User2], passed);
    }

    private static async Task WaitForCount(List<Signal> passed, int count)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(20))
        {
            lock (passed)
            {
                if (passed.Count >= count)
                {
                    return;
                }
            }
        }
        Assert.Fail($"{count} signals were not passed on");
    }

    private static void SendToSelf(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static (int ExitCode, string Stderr) RunVerb(string[] args)
    {
        var run = Assert.IsType<CommandLineOutcome.Run>(new ScrunCommandLine().Parse(args));
        var stderr = new StringWriter();
        using var log = ScrunLogging.Create(run.Global.Log, stderr);
        return (VerbRunner.Run(run.Global, run.Verb, log, new StringWriter()), stderr.ToString());
    }
}
