using System.Diagnostics;
using System.Text.Json.Nodes;
using Scrun.Containers.Control;
using Scrun.Containers.Interop;

namespace Scrun.Containers;

/// <summary>exec, pause and resume, as the CLI performs them: the anchor does the work, on the container's node.</summary>
public sealed partial class ContainerLifecycle
{
    /// <summary>
    /// Runs a process in the running container: starts its relay (the process as the caller
    /// sees it: the pid in --pid-file, the stdio or the terminal, the exit status), which the
    /// anchor runs the process for. Returns 0 once it runs with --detach, else its exit code.
    /// </summary>
    /// <exception cref="ContainerException">The container does not run, a flag or the process is wrong, or the process could not be started.</exception>
    public async Task<int> ExecAsync(ExecRequest request, CancellationToken cancellation = default)
    {
        var id = request.Id;
        var paths = Paths(id);
        var stored = StoredState(paths, id);
        var (process, terminal) = ExecProcess.Resolve(request, () => ContainerProcess(paths, id), inOwnUserNamespace: UserNamespace.OutsideIds() is not null);
        if (terminal && request.ConsoleSocket is null)
        {
            throw new ContainerException("exec --tty needs --console-socket: the terminal's master is handed to the caller through it");
        }
        var pidFile = request.PidFile is null ? null : Path.GetFullPath(request.PidFile);
        if (pidFile is not null)
        {
            EnsureWritableDirectory(Path.GetDirectoryName(pidFile)!, "--pid-file");
        }
        if (stored.Status == ContainerStatus.Stopped || !LibC.IsAlive(stored.AnchorPid))
        {
            throw ContainerStatus.Stopped.ExecRefusal(id.Value);
        }
        string? slave = null;
        if (terminal)
        {
            var (master, slavePath) = Terminal.Open();
            try
            {
                Terminal.SendDescriptor(request.ConsoleSocket!, master);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                throw new ContainerException($"cannot reach the console socket {request.ConsoleSocket}: {e.Message}");
            }
            finally
            {
                LibC.close(master);
            }
            slave = slavePath;
        }

        // What our caller passed us beyond stdio (conmon's sync pipes) must not stay open in the relay.
        LibC.CloseExtraDescriptorsOnExec();
        var (read, write) = CreationReport.OpenPipe();
        Process relay;
        try
        {
            var launch = new ExecLaunch { Root = paths.Root, Id = id.Value, Process = process, Terminal = slave, ReportDescriptor = write };
            relay = Process.Start(launch.StartInfo()) ?? throw new InvalidOperationException("the relay did not start");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            LibC.close(read);
            throw new ContainerException($"cannot start the exec's relay: {e.Message}");
        }
        finally
        {
            LibC.close(write);
        }
        using (relay)
        {
            var answer = await CreationReport.ReadAsync(read, cancellation);
            if (answer is not { Ok: true })
            {
                await relay.WaitForExitAsync(CancellationToken.None);
                throw new ContainerException(answer?.Error ?? $"the exec's relay exited (status {relay.ExitCode}) before the process started", answer?.Kind ?? ContainerErrorKind.Failed);
            }
            if (pidFile is not null)
            {
                StateStore.WriteAtomically(pidFile, relay.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            if (request.Detach)
            {
                return 0;
            }
            // In the foreground the caller's signals are the process's: the relay passes them on.
            var relayPid = relay.Id;
            using (new ForwardedSignals(signal =>
            {
                LibC.SendSignal(relayPid, signal);
                return Task.CompletedTask;
            }, Serilog.Core.Logger.None))
            {
                await relay.WaitForExitAsync(CancellationToken.None);
            }
            return relay.ExitCode;
        }
    }

    /// <summary>The container's own process (config.json), which an exec without --process starts from, as runc's does.</summary>
    private static JsonObject? ContainerProcess(ContainerPaths paths, ContainerId id)
    {
        try
        {
            using var directory = DirectoryHandle.Open(paths.Directory);
            return JsonNode.Parse(ContainerPlan.Read(directory, id).ConfigJson)?["process"] as JsonObject;
        }
        catch (Exception e) when (e is ContainerException or IOException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Freezes the container's processes on its node.</summary>
    public Task PauseAsync(ContainerId id, CancellationToken cancellation = default) => AskRunningAsync(id, ControlOperation.Pause, ContainerStatus.Stopped.PauseRefusal(id.Value), cancellation);

    /// <summary>Thaws the container's processes on its node.</summary>
    public Task ResumeAsync(ContainerId id, CancellationToken cancellation = default) => AskRunningAsync(id, ControlOperation.Resume, ContainerStatus.Stopped.ResumeRefusal(id.Value), cancellation);

    private async Task AskRunningAsync(ContainerId id, ControlOperation operation, ContainerException whenStopped, CancellationToken cancellation)
    {
        var paths = Paths(id);
        var answer = await AnchorClient.SendAsync(paths, new ControlRequest { Op = operation }, cancellation);
        if (answer is null)
        {
            _ = StoredState(paths, id);
            throw whenStopped;
        }
        ThrowIfRefused(answer);
    }
}
