using Microsoft.Win32.SafeHandles;
using System.Diagnostics;
using System.Text.Json;
using Scrun.Containers.Anchor;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Scrun.Slurm;
using Scrun.Slurm.Config;

namespace Scrun.Containers;

/// <summary>What create was asked for.</summary>
public sealed record CreateRequest(
    ContainerId Id,
    string Bundle,
    string? PidFile,
    string? ConsoleSocket,
    string? LogFile,
    string LogFormat,
    bool Debug,
    int Verbosity,
    string? SlurmConf);

/// <summary>
/// The OCI verbs as the CLI performs them: create starts the container's anchor; the others ask
/// it over its socket, or read state.json when it has gone.
/// </summary>
public sealed class ContainerLifecycle(string root)
{
    private static readonly TimeSpan s_anchorStartup = TimeSpan.FromSeconds(10);

    public string Root { get; } = root;

    private ContainerPaths Paths(ContainerId id) => new(Root, id);

    public async Task CreateAsync(CreateRequest request, CancellationToken cancellation = default)
    {
        var bundle = Path.GetFullPath(request.Bundle);
        BundleConfig.Load(bundle); // a broken bundle fails here, before anything is made
        var paths = Paths(request.Id);
        if (StateStore.Read(paths) is not null)
        {
            throw new ContainerException($"container \"{request.Id}\" already exists");
        }
        Mounts.DeleteTree(paths.Directory); // the remains of a create that died early
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(paths.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Process anchor;
        int report;
        try
        {
            (anchor, report) = StartAnchor(new AnchorLaunch
            {
                Root = Root,
                Id = request.Id.Value,
                Bundle = bundle,
                PidFile = request.PidFile is null ? null : Path.GetFullPath(request.PidFile),
                ConsoleSocket = request.ConsoleSocket,
                LogFile = request.LogFile,
                LogFormat = request.LogFormat,
                Debug = request.Debug,
                Verbosity = request.Verbosity,
                SlurmConf = request.SlurmConf,
            });
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            Mounts.DeleteTree(paths.Directory);
            throw new ContainerException($"cannot start the container's anchor process: {e.Message}");
        }

        using (anchor)
        {
            var answer = await ReadReportAsync(report, cancellation);
            if (answer is { Ok: true })
            {
                if (request.PidFile is { } pidFile)
                {
                    StateStore.WriteAtomically(Path.GetFullPath(pidFile), anchor.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                return;
            }
            if (!anchor.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                anchor.Kill(entireProcessTree: true);
            }
            Mounts.DeleteTree(paths.Directory);
            throw new ContainerException(answer?.Error ?? $"the anchor of container \"{request.Id}\" exited before the container was created (exit status {ExitCodeOf(anchor)})");
        }
    }

    private static int ExitCodeOf(Process process) => process.HasExited ? process.ExitCode : -1;

    /// <summary>Starts the anchor with the write end of a pipe it reports creation on; returns the read end.</summary>
    private static (Process Anchor, int Report) StartAnchor(AnchorLaunch launch)
    {
        // What our caller passed us beyond stdio (conmon's sync pipes, containerd's socket) must not stay open in the anchor.
        LibC.CloseExtraDescriptorsOnExec();
        var (read, write) = LibC.InheritablePipe();
        try
        {
            var psi = new ProcessStartInfo(Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the scrun executable"))
            {
                UseShellExecute = false,
                ArgumentList = { AnchorLaunch.Verb },
            };
            psi.Environment[AnchorLaunch.EnvironmentVariable] =
                JsonSerializer.Serialize(launch with { ReportDescriptor = write }, ControlJsonContext.Default.AnchorLaunch);
            return (Process.Start(psi) ?? throw new InvalidOperationException("the anchor did not start"), read);
        }
        catch
        {
            LibC.close(read);
            throw;
        }
        finally
        {
            LibC.close(write); // the anchor holds the only write end: its exit means end of file
        }
    }

    /// <summary>The anchor's one-line report on creation, or null when it exited without one.</summary>
    private static async Task<ControlResponse?> ReadReportAsync(int report, CancellationToken cancellation)
    {
        using var reader = new StreamReader(new FileStream(new SafeFileHandle(report, ownsHandle: true), FileAccess.Read, 1));
        var line = await reader.ReadLineAsync(cancellation);
        try
        {
            return line is null ? null : JsonSerializer.Deserialize(line, ControlJsonContext.Default.ControlResponse);
        }
        catch (JsonException)
        {
            return new ControlResponse { Error = $"the anchor sent a broken report: {line}" };
        }
    }

    public async Task StartAsync(ContainerId id, CancellationToken cancellation = default)
    {
        var paths = Paths(id);
        var answer = await AnchorClient.SendAsync(paths, new ControlRequest { Op = "start" }, cancellation);
        if (answer is null)
        {
            _ = StoredState(paths, id);
            throw new ContainerException($"cannot start container \"{id}\": it has stopped");
        }
        ThrowIfRefused(answer);
    }

    /// <summary>The container's state: from its anchor, else as the anchor last recorded it.</summary>
    public async Task<ContainerState> StateAsync(ContainerId id, CancellationToken cancellation = default)
    {
        var paths = Paths(id);
        if (await AnchorClient.SendAsync(paths, new ControlRequest { Op = "state" }, cancellation) is { State: { } live })
        {
            return live;
        }
        var stored = StoredState(paths, id);
        return stored.Status == ContainerStatus.Stopped || !LibC.IsAlive(stored.AnchorPid)
            ? stored with { Status = ContainerStatus.Stopped }
            : stored;
    }

    public async Task KillAsync(ContainerId id, int signal, bool all, CancellationToken cancellation = default)
    {
        var paths = Paths(id);
        var answer = await AnchorClient.SendAsync(paths, new ControlRequest { Op = "kill", Signal = signal, All = all }, cancellation);
        if (answer is null)
        {
            _ = StoredState(paths, id);
            throw new ContainerException($"cannot kill container \"{id}\": container not running");
        }
        ThrowIfRefused(answer);
    }

    public async Task DeleteAsync(ContainerId id, bool force, CancellationToken cancellation = default)
    {
        var paths = Paths(id);
        var stored = StateStore.Read(paths);
        if (stored is null)
        {
            if (Directory.Exists(paths.Directory))
            {
                Mounts.DeleteTree(paths.Directory);
                return;
            }
            if (force)
            {
                return; // like runc: forcing the delete of what is gone is not an error
            }
            throw new ContainerNotFoundException(id);
        }
        var answer = await AnchorClient.SendAsync(paths, new ControlRequest { Op = "delete", Force = force }, cancellation);
        if (answer is not null)
        {
            ThrowIfRefused(answer);
            WaitForExit(stored.AnchorPid);
        }
        else if (stored.Status != ContainerStatus.Stopped)
        {
            await ReleaseOrphanedJobAsync(stored);
        }
        if (stored.StagedBundle is { } staged)
        {
            Mounts.DeleteTree(staged);
        }
        Mounts.DeleteTree(paths.Directory);
    }

    /// <summary>The anchor died without finishing (killed, crashed): release its job so it does not run to its time limit.</summary>
    private static async Task ReleaseOrphanedJobAsync(ContainerState state)
    {
        if (state.JobId is not { } job || state.ExistingAllocation)
        {
            return;
        }
        try
        {
            var slurm = SlurmController.Create(SlurmConfig.Load(null, Environment.GetEnvironmentVariable("SLURM_CONF")), Environment.GetEnvironmentVariable("SLURM_JWT"));
            await slurm.SignalJobAsync(job, 9);
        }
        catch (Exception e) when (e is SlurmException or SlurmUnreachableException or SlurmConfigException or Slurm.Auth.MungeException or SlurmProtocolException)
        {
            // best effort: the job ends at its time limit anyway
        }
    }

    private static void WaitForExit(int pid)
    {
        for (var i = 0; i < 200 && LibC.IsAlive(pid); i++)
        {
            Thread.Sleep(25);
        }
    }

    private static ContainerState StoredState(ContainerPaths paths, ContainerId id) =>
        StateStore.Read(paths) ?? throw new ContainerNotFoundException(id);

    private static void ThrowIfRefused(ControlResponse answer)
    {
        if (!answer.Ok)
        {
            throw new ContainerException(answer.Error ?? "the anchor refused the request", answer.ExitCode);
        }
    }
}
