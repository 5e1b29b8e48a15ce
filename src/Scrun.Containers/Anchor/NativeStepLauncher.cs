using Scrun.Containers.Interop;
using Scrun.Slurm;
using Scrun.Slurm.Config;
using Scrun.Slurm.Steps;
using Serilog;

namespace Scrun.Containers.Anchor;

/// <summary>
/// Runs the container's step by speaking Slurm's step protocol itself (<see cref="StepSession"/>):
/// no srun, no Slurm installation on the login node. The anchor's stdin, stdout and stderr are
/// the step's; with a terminal, the step terminal carries input and output and its size.
/// </summary>
internal sealed class NativeStepLauncher(SlurmController slurm, ILogger log) : IStepLauncher
{
    public async Task<IStep> StartAsync(StepLaunch launch, CancellationToken cancellation)
    {
        var placement = launch.Placement ?? throw new ContainerException("the job's nodes and owner are not known");
        StepTerminal? terminal = launch.Terminal is { } path ? StepTerminal.Open(path) : null;
        try
        {
            var streams = terminal is not null
                ? new StepStreams(terminal.Input, terminal.Output, terminal.Output)
                : new StepStreams(new DescriptorStream(0), new DescriptorStream(1), new DescriptorStream(2));
            var request = new StepRequest
            {
                JobId = launch.JobId,
                NodeCount = placement.NodeCount,
                UserId = placement.UserId,
                GroupId = placement.GroupId,
                Name = launch.JobName,
                Container = launch.Bundle,
                ContainerId = launch.ContainerId,
                Arguments = launch.Args,
                Environment = launch.Environment.Select(v => $"{v.Key}={v.Value}").ToList(),
                Allocation = placement.Allocation,
                WorkingDirectory = launch.WorkingDirectory,
                // A terminal of no known size is still a terminal: 0x0 is what srun --pty sends for it.
                Terminal = terminal is null ? null : terminal.Size() ?? new WindowSize(0, 0),
            };
            var session = await StepSession.LaunchAsync(slurm, request, streams, line => log.Debug("{Line}", line), cancellation);
            return new NativeStep(session, terminal);
        }
        catch (Exception e) when (e is SlurmConfigException or SlurmProtocolException)
        {
            terminal?.Dispose();
            throw new NativeLaunchUnsupportedException(e.Message);
        }
        catch (Exception e) when (e is SlurmClientException or System.Net.Sockets.SocketException)
        {
            terminal?.Dispose();
            throw new ContainerException(e.Message);
        }
        catch
        {
            terminal?.Dispose();
            throw;
        }
    }

    private sealed class NativeStep : IStep
    {
        private readonly StepSession _session;
        private readonly StepTerminal? _terminal;

        public NativeStep(StepSession session, StepTerminal? terminal)
        {
            _session = session;
            _terminal = terminal;
            Completion = EndAsync();
        }

        public StepCapabilities Can => StepCapabilities.Native;

        public Task<int> Completion { get; }

        public uint? StepNumber => _session.Step.StepNumber;

        public void Conclude(int exitCode) => _session.Conclude(exitCode);

        public void GiveUp(string why) => _session.GiveUp(why);

        public void TerminalResized()
        {
            if (_terminal?.Size() is { } size)
            {
                _session.Resize(size);
            }
        }

        public void Dispose()
        {
            _session.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _terminal?.Dispose();
        }

        private async Task<int> EndAsync()
        {
            var exitCode = await _session.Completion;
            _terminal?.Dispose(); // the terminal's reader then sees its end once the output is read
            return exitCode;
        }
    }
}

/// <summary>
/// The step cannot be launched natively here (a node slurm.conf does not name, a release or a
/// plugin whose format the launcher does not know); srun may still launch it. The step slurmctld
/// may have created for it is completed already.
/// </summary>
internal sealed class NativeLaunchUnsupportedException(string message) : ContainerException(message);

/// <summary>
/// The automatic choice: the native launcher, and srun where it finds it cannot.
/// <paramref name="srun"/> makes srun's launcher once it is needed (the anchor first releases the
/// job's lease then: srun does not say which step it made, and its signals go to the job's first).
/// </summary>
internal sealed class FallbackStepLauncher(IStepLauncher native, Func<Task<IStepLauncher>> srun, Action<string> log) : IStepLauncher
{
    public async Task<IStep> StartAsync(StepLaunch launch, CancellationToken cancellation)
    {
        try
        {
            return await native.StartAsync(launch, cancellation);
        }
        catch (NativeLaunchUnsupportedException e)
        {
            log($"the native launcher cannot launch this step ({e.Message}): srun launches it");
            return await (await srun()).StartAsync(launch, cancellation);
        }
    }
}
