using System.Diagnostics;
using Scrun.Containers.Anchor;
using Scrun.Containers.Interop;
using Scrun.Slurm;
using Scrun.Slurm.Config;
using Scrun.Slurm.Interop;
using Scrun.Slurm.Steps;
using Serilog;

namespace Scrun.Containers.NodeCommands;

/// <summary>A command for the container's node: one task of an overlapping step (it takes none of the job's resources) in the container's job.</summary>
internal sealed record NodeCommand(uint JobId, string Node, string Name, IReadOnlyList<string> Arguments, JobPlacement Placement);

/// <summary>
/// The task's stdio: descriptors this process owns until the task is started, the task's from
/// then on (closed once it has ended). With <see cref="Terminal"/>, <see cref="Input"/> is a
/// terminal that carries all three and the size (<see cref="Output"/> and <see cref="Error"/> are closed).
/// </summary>
internal sealed record NodeTaskStdio(int Input, int Output, int Error, bool Terminal)
{
    public void Close()
    {
        foreach (var fd in new[] { Input, Output, Error }.Where(fd => fd >= 0).Distinct())
        {
            LibC.close(fd);
        }
    }
}

/// <summary>Runs a <see cref="NodeCommand"/>: natively (<see cref="NativeNodeCommandLauncher"/>) or with srun --overlap.</summary>
internal interface INodeCommandLauncher
{
    /// <summary>Starts the task; the stdio is the task's whether or not it starts.</summary>
    /// <exception cref="ContainerException">The step could not be created or launched.</exception>
    Task<INodeTask> StartAsync(NodeCommand command, NodeTaskStdio stdio, CancellationToken cancellation);
}

/// <summary>A started task on the container's node.</summary>
internal interface INodeTask : IDisposable
{
    /// <summary>Its exit code (128+N for a signal), once its output is written and its stdio closed.</summary>
    Task<int> Completion { get; }

    /// <summary>Sends the task a signal (for a runtime's exec, its process gets it).</summary>
    Task SignalAsync(Signal signal);

    /// <summary>Its terminal has a new size.</summary>
    void Resized();
}

/// <summary>Speaks Slurm's step protocol itself, as the container's native step does.</summary>
internal sealed class NativeNodeCommandLauncher(SlurmController slurm, ILogger log) : INodeCommandLauncher
{
    public async Task<INodeTask> StartAsync(NodeCommand command, NodeTaskStdio stdio, CancellationToken cancellation)
    {
        StepTerminal? input = null;
        try
        {
            input = stdio.Input < 0 ? null : StepTerminal.Adopt(stdio.Input, raw: stdio.Terminal);
            var streams = stdio.Terminal
                ? new StepStreams(input!.Input, input.Output, input.Output)
                : new StepStreams(input?.Input, new DescriptorStream(stdio.Output), new DescriptorStream(stdio.Error));
            var request = new StepRequest
            {
                JobId = command.JobId,
                NodeCount = 1,
                UserId = command.Placement.UserId,
                GroupId = command.Placement.GroupId,
                Name = command.Name,
                Arguments = command.Arguments,
                Environment = [],
                Allocation = command.Placement.Allocation,
                WorkingDirectory = "/",
                Overlapping = true,
                Terminal = stdio.Terminal ? input!.Size() ?? new WindowSize(0, 0) : null,
                // A suspended job takes no step: an exec must not wait for an administrator's resume.
                BusyPatience = TimeSpan.FromSeconds(30),
            };
            var session = await StepSession.LaunchAsync(slurm, request, streams, line => log.Debug("{Line}", line), cancellation);
            return new NativeNodeTask(slurm, session, input, stdio);
        }
        catch (Exception e) when (e is SlurmClientException or System.Net.Sockets.SocketException)
        {
            Close(input, stdio);
            throw new ContainerException(e.Message);
        }
        catch
        {
            Close(input, stdio);
            throw;
        }
    }

    private static void Close(StepTerminal? input, NodeTaskStdio stdio)
    {
        input?.Dispose();
        (stdio with { Input = -1 }).Close();
    }

    private sealed class NativeNodeTask : INodeTask
    {
        private readonly SlurmController _slurm;
        private readonly StepSession _session;
        private readonly StepTerminal? _input;
        private readonly NodeTaskStdio _stdio;

        public NativeNodeTask(SlurmController slurm, StepSession session, StepTerminal? input, NodeTaskStdio stdio)
        {
            _slurm = slurm;
            _session = session;
            _input = input;
            _stdio = stdio;
            Completion = EndAsync();
        }

        public Task<int> Completion { get; }

        public Task SignalAsync(Signal signal) => _slurm.SignalStepAsync(_session.Step.JobId, _session.Step.StepNumber, signal);

        public void Resized()
        {
            if (_stdio.Terminal && _input?.Size() is { } size)
            {
                _session.Resize(size);
            }
        }

        public void Dispose() => _session.DisposeAsync().AsTask().GetAwaiter().GetResult();

        private async Task<int> EndAsync()
        {
            var exitCode = await _session.Completion;
            Close(_input, _stdio);
            return exitCode;
        }
    }
}

/// <summary><c>srun --overlap --jobid J -N1 -n1 -w NODE -Q -Q [--pty] -- COMMAND</c>, for the clusters the container's step needed srun for.</summary>
internal sealed class SrunNodeCommandLauncher(OciConfig oci, string slurmConf) : INodeCommandLauncher
{
    public Task<INodeTask> StartAsync(NodeCommand command, NodeTaskStdio stdio, CancellationToken cancellation)
    {
        try
        {
            var srun = SrunStepLauncher.Resolve(oci.SrunPath);
            var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = "/" };
            psi.ArgumentList.Add("-c");
            // srun --pty needs the terminal as its stdio and controlling terminal: a session of its own.
            // The descriptors are reopened by path: dash's redirections take single-digit descriptors only.
            psi.ArgumentList.Add(stdio.Terminal
                ? "exec setsid --ctty \"$0\" \"$@\" <>\"/proc/self/fd/$SCRUN_FD_IN\" >&0 2>&0"
                : "exec \"$0\" \"$@\" <\"/proc/self/fd/$SCRUN_FD_IN\" >>\"/proc/self/fd/$SCRUN_FD_OUT\" 2>>\"/proc/self/fd/$SCRUN_FD_ERR\"");
            psi.ArgumentList.Add(srun);
            foreach (var argument in Arguments(oci.SrunArgs, command, stdio.Terminal))
            {
                psi.ArgumentList.Add(argument);
            }
            psi.Environment["SLURM_CONF"] = slurmConf;
            psi.Environment["SCRUN_FD_IN"] = Number(stdio.Input);
            psi.Environment["SCRUN_FD_OUT"] = Number(stdio.Output);
            psi.Environment["SCRUN_FD_ERR"] = Number(stdio.Error);
            var handed = new[] { stdio.Input, stdio.Output, stdio.Error }.Where(fd => fd >= 0).Distinct().ToList();
            handed.ForEach(fd => LibC.SetCloseOnExec(fd, false));
            try
            {
                var process = Process.Start(psi) ?? throw new ContainerException("srun did not start");
                return Task.FromResult<INodeTask>(new SrunNodeTask(process));
            }
            finally
            {
                stdio.Close(); // srun has its own copies
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            stdio.Close();
            throw new ContainerException($"cannot run srun: {e.Message}");
        }
        catch (ContainerException)
        {
            stdio.Close();
            throw;
        }
    }

    public static IReadOnlyList<string> Arguments(IReadOnlyList<string> srunArgs, NodeCommand command, bool terminal)
    {
        var arguments = new List<string>(srunArgs)
        {
            "--overlap",
            $"--jobid={command.JobId}",
            "--nodes=1",
            "--ntasks=1",
            $"--nodelist={command.Node}",
            $"--job-name={command.Name}",
            "--quiet",
            "--quiet",
        };
        if (terminal)
        {
            arguments.Add("--pty");
        }
        arguments.Add("--");
        arguments.AddRange(command.Arguments);
        return arguments;
    }

    private static string Number(int fd) => fd.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private sealed class SrunNodeTask(Process srun) : INodeTask
    {
        public Task<int> Completion { get; } = WaitAsync(srun);

        public Task SignalAsync(Signal signal)
        {
            LibC.SendSignal(srun.Id, signal); // srun passes it to the task
            return Task.CompletedTask;
        }

        public void Resized()
        {
            // srun reads its terminal's size itself, on SIGWINCH.
        }

        public void Dispose() => srun.Dispose();

        private static async Task<int> WaitAsync(Process srun)
        {
            await srun.WaitForExitAsync();
            return srun.ExitCode;
        }
    }
}
