using Scrun.Containers.Control;
using System.Diagnostics;
using Scrun.Containers.Interop;
using Scrun.Containers.Staging;
using Scrun.Slurm.Interop;

namespace Scrun.Containers;

/// <summary>
/// The OCI verbs as the CLI performs them: create starts the container's anchor; the others ask
/// it over its socket, or read state.json when it has gone.
/// </summary>
public sealed partial class ContainerLifecycle(string root)
{
    /// <summary>How long delete waits for an anchor that has agreed to stop to exit and give up the container's claim.</summary>
    private static readonly TimeSpan s_anchorExit = TimeSpan.FromSeconds(60);

    /// <summary>How long a verb rides out slurmctld's silence to end the job of an anchor that is gone.</summary>
    private static readonly TimeSpan s_releasePatience = TimeSpan.FromSeconds(10);

    public string Root { get; } = root;

    /// <summary>
    /// The paths of an existing container for start, state, kill and delete. The real root acts
    /// on a user's container as that user (what the user's files name is acted on with the
    /// user's rights alone); anyone else acts only on a container whose state directory, own
    /// directory and state are theirs and writable by nobody else.
    /// </summary>
    private ContainerPaths Paths(ContainerId id)
    {
        var paths = new ContainerPaths(Root, id);
        if (Slurm.Interop.ProcessIdentity.Current.IsRealRoot)
        {
            ActForOwner(paths);
        }
        EnsureOwnRoot(paths.Root);
        EnsureOwnContainer(paths);
        return paths;
    }

    /// <summary>The real root becomes the owner of the state directory, else of the container's directory, when that is not root.</summary>
    private static void ActForOwner(ContainerPaths paths)
    {
        var owner = FileTree.Status(LibC.AtFdcwd, paths.Root) is { Uid: not 0 } root ? root
            : FileTree.Status(LibC.AtFdcwd, paths.Directory) is { Uid: not 0 } directory ? directory
            : (FileStatus?)null;
        if (owner is { } user)
        {
            Privileges.Become(user.Uid, user.Gid);
        }
    }

    /// <summary>
    /// Another user's state directory is refused whatever its modes: its state files would make
    /// scrun signal, delete or cancel the jobs of containers that are not the caller's (the real
    /// root has become its owner before this). Inside a rootless engine's namespace the user's
    /// own directory belongs to uid 0, as the caller does.
    /// </summary>
    private static void EnsureOwnRoot(string root)
    {
        var caller = LibC.geteuid();
        if (FileTree.Status(LibC.AtFdcwd, root) is { Uid: var owner } && owner != caller)
        {
            throw new ContainerException($"cannot use {root} as the state directory: it belongs to uid {owner}, not to uid {caller}");
        }
    }

    /// <summary>
    /// The container's own directory, when there is one, is the caller's and nobody else may
    /// write in it: in a state directory others can write in, another user may have placed it.
    /// </summary>
    private static void EnsureOwnContainer(ContainerPaths paths)
    {
        if (FileTree.Status(LibC.AtFdcwd, paths.Directory) is not { } status)
        {
            return;
        }
        if (status.Kind != FileKind.Directory)
        {
            throw new ContainerException($"container \"{paths.Id}\" cannot be trusted: {paths.Directory} is not a directory");
        }
        StateStore.EnsureTrusted(status, paths.Id, paths.Directory);
    }

    /// <summary>SCRUN_STAGING_DIR and the state directory must not hold one another: staging a bundle would replace a container's state.</summary>
    private static void EnsureStagingApart(string root, string? staging)
    {
        if (string.IsNullOrEmpty(staging))
        {
            return;
        }
        var real = ContainerPaths.Resolve(staging);
        if (real == root || real.StartsWith(root + "/", StringComparison.Ordinal) || root.StartsWith(real + "/", StringComparison.Ordinal))
        {
            throw new ContainerException($"{BuiltInStaging.Variable}={staging} and the state directory {root} overlap: a staged bundle would replace a container's state; use separate directories");
        }
    }

    /// <summary>
    /// Checks everything it can before a job is asked for (the bundle, its root filesystem, the
    /// pid file's directory, the state directory), claims the id, and starts the anchor, which
    /// reports how creation ended. Nothing is left behind on failure.
    /// </summary>
    /// <param name="request">What create was asked for.</param>
    /// <param name="environment">The runtime's environment (Docker's or Podman's): the job's <c>SCRUN_*</c> and <c>SLURM_*</c> options, <c>SLURM_CONF</c>.</param>
    /// <param name="cancellation">Cancels the wait for the anchor's report.</param>
    public async Task CreateAsync(LaunchContext request, IReadOnlyDictionary<string, string> environment, CancellationToken cancellation = default)
    {
        // The anchor lives on in a session of its own: create does not wait for it.
        (await CreateWithAnchorAsync(request, environment, forRun: false, cancellation)).Dispose();
    }

    /// <summary><see cref="CreateAsync"/>, returning the anchor, this process's child, once the container is created.</summary>
    /// <param name="request">What create was asked for.</param>
    /// <param name="environment">The runtime's environment.</param>
    /// <param name="forRun">run's container: a terminal it has must go to a console socket (run has no terminal of its own to give it).</param>
    /// <param name="cancellation">Cancels the wait for the anchor's report.</param>
    private async Task<Process> CreateWithAnchorAsync(LaunchContext request, IReadOnlyDictionary<string, string> environment, bool forRun, CancellationToken cancellation)
    {
        var id = ContainerId.Parse(request.Id);
        var bundle = Path.GetFullPath(request.Bundle);
        var pidFile = request.PidFile is null ? null : Path.GetFullPath(request.PidFile);
        var paths = new ContainerPaths(Root, id);
        // Everything the container is run with, checked now: a broken bundle or option fails here, before anything is made.
        var plan = ContainerPlan.Resolve(request with { Root = paths.Root, Bundle = bundle, PidFile = pidFile }, environment.GetValueOrDefault, environment);
        if (forRun && plan.Config.Terminal && request.ConsoleSocket is null)
        {
            // runc's run would relay its own terminal; scrun's does not yet, and the terminal would be nobody's.
            throw new ContainerException("process.terminal without --console-socket: scrun run has no terminal of its own to give the container; pass --console-socket or set process.terminal to false");
        }
        if (pidFile is not null)
        {
            EnsureWritableDirectory(Path.GetDirectoryName(pidFile)!, "--pid-file");
        }
        EnsureOwnRoot(paths.Root); // the real root too: a user could change what root creates in a directory of theirs
        EnsureStagingApart(paths.Root, plan.StagingDirectory);
        EnsureRoot(paths.Root);
        using var claim = ContainerClaim.TryTake(paths) ?? throw new ContainerException($"container \"{id}\" already exists");
        if (StateStore.Read(paths) is not null)
        {
            throw new ContainerException($"container \"{id}\" already exists");
        }
        Removing($"cannot create container \"{id}\"", () => FileTree.Empty(paths.Directory)); // the remains of a create that died early: we hold the claim
        using (var directory = DirectoryHandle.Borrow(claim.Descriptor, paths.Directory))
        {
            plan.Write(directory);
        }

        var launch = request with { Root = paths.Root, Bundle = bundle, PidFile = pidFile };
        // What our caller passed us beyond stdio (conmon's sync pipes, containerd's socket) must not stay open in our children.
        LibC.CloseExtraDescriptorsOnExec();
        Process anchor;
        int report;
        try
        {
            ContainerGuard.Start(launch); // first: it waits for the claim we hold, then for the anchor's
            (anchor, report) = StartAnchor(claim, launch);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            Removing($"cannot create container \"{id}\"", () => FileTree.Remove(paths.Directory));
            throw new ContainerException($"cannot start the container's processes: {e.Message}");
        }

        try
        {
            var answer = await CreationReport.ReadAsync(report, cancellation);
            if (answer is { Ok: true })
            {
                return anchor;
            }
            if (answer is not null)
            {
                // The anchor has cleaned up (or keeps what it must to cancel the job later).
                throw new ContainerException(answer.Error ?? "the container could not be created");
            }
            // The anchor died without a word: what it left is ours (we still hold the claim).
            await anchor.WaitForExitAsync(cancellation);
            var died = $"the anchor of container \"{id}\" exited before the container was created (exit status {anchor.ExitCode})";
            if (StateStore.Read(paths) is { } left)
            {
                await OrphanedJob.ReleaseAsync(left, died, s_releasePatience);
            }
            Removing(died, () => FileTree.Remove(paths.Directory));
            throw new ContainerException(died);
        }
        catch
        {
            anchor.Dispose();
            throw;
        }
    }

    /// <summary>Starts the anchor with the container's claim and the write end of a pipe it reports creation on; returns the read end.</summary>
    private static (Process Anchor, int Report) StartAnchor(ContainerClaim claim, LaunchContext launch)
    {
        LibC.SetCloseOnExec(claim.Descriptor, false);
        var (read, write) = CreationReport.OpenPipe();
        try
        {
            var psi = (launch with { ReportDescriptor = write, ClaimDescriptor = claim.Descriptor }).StartInfo(LaunchContext.AnchorVerb);
            // The anchor takes HUP, INT and TERM as the container's signals, even from a caller that ignores them.
            using (LibC.StopIgnoring(Signal.Hangup, Signal.Interrupt, Signal.Terminate))
            {
                return (Process.Start(psi) ?? throw new InvalidOperationException("the anchor did not start"), read);
            }
        }
        catch
        {
            LibC.close(read);
            throw;
        }
        finally
        {
            LibC.close(write); // the anchor holds the only write end: its exit means end of file
            LibC.SetCloseOnExec(claim.Descriptor, true);
        }
    }

    public async Task StartAsync(ContainerId id, CancellationToken cancellation = default)
    {
        var paths = Paths(id);
        var answer = await AnchorClient.SendAsync(paths, new ControlRequest { Op = ControlOperation.Start }, cancellation);
        if (answer is null)
        {
            _ = StoredState(paths, id);
            throw ContainerStatus.Stopped.StartRefusal(id.Value); // no anchor: it has stopped
        }
        ThrowIfRefused(answer);
    }

    /// <summary>The container's state: from its anchor, else as the anchor last recorded it.</summary>
    public async Task<ContainerState> StateAsync(ContainerId id, CancellationToken cancellation = default)
    {
        var paths = Paths(id);
        if (await AnchorClient.SendAsync(paths, new ControlRequest { Op = ControlOperation.State }, cancellation) is { State: { } live })
        {
            return live;
        }
        var stored = StoredState(paths, id);
        return stored.Status == ContainerStatus.Stopped || !LibC.IsAlive(stored.AnchorPid) || !ContainerClaim.IsHeld(paths)
            ? stored with { Status = ContainerStatus.Stopped }
            : stored;
    }

    public async Task KillAsync(ContainerId id, Signal signal, bool all, CancellationToken cancellation = default)
    {
        var paths = Paths(id);
        var answer = await AnchorClient.SendAsync(paths, new ControlRequest { Op = ControlOperation.Kill, Signal = signal, All = all }, cancellation);
        if (answer is null)
        {
            _ = StoredState(paths, id);
            throw ContainerStatus.Stopped.KillRefusal(id.Value);
        }
        ThrowIfRefused(answer);
    }

    /// <summary>
    /// Deletes a container: its anchor stops it (and ends its job); once the anchor is gone and
    /// its claim is ours, a job it could not end is ended here, and what scrun made is removed. A
    /// job that cannot be ended keeps the state, so that a later delete can.
    /// </summary>
    public async Task DeleteAsync(ContainerId id, bool force, CancellationToken cancellation = default)
    {
        var paths = Paths(id);
        var stored = await StoredOrCreatingAsync(paths);
        if (stored is null)
        {
            if (Directory.Exists(paths.Directory))
            {
                // No state and no live owner: the remains of a create that died before its anchor wrote anything.
                using var leftover = ContainerClaim.TakeExisting(paths, TimeSpan.Zero)
                    ?? throw new ContainerException($"cannot delete container \"{id}\": it is being created");
                Removing($"cannot delete container \"{id}\"", () => FileTree.Remove(paths.Directory));
                return;
            }
            if (force)
            {
                return; // like runc: forcing the delete of what is gone is not an error
            }
            throw new ContainerNotFoundException(id);
        }
        var answer = await AnchorClient.SendAsync(paths, new ControlRequest { Op = ControlOperation.Delete, Force = force }, cancellation);
        if (answer is not null)
        {
            ThrowIfRefused(answer);
        }
        // An anchor that does not answer and yet lives is given a moment; one that is gone leaves its guard (or another delete) finishing.
        using var claim = ContainerClaim.TakeExisting(paths, answer is null && LibC.IsAlive(stored.AnchorPid) ? TimeSpan.FromSeconds(2) : s_anchorExit);
        if (claim is null)
        {
            if (!Directory.Exists(paths.Directory))
            {
                return; // the anchor removed everything itself
            }
            throw new ContainerException($"cannot delete container \"{id}\": its anchor (pid {stored.AnchorPid}) is alive but does not answer");
        }
        var final = StateStore.Read(paths) ?? stored;
        await OrphanedJob.ReleaseAsync(final, $"cannot delete container \"{id}\"", s_releasePatience);
        if (final is { StagedBundleOwned: true, StagedBundle: { } staged })
        {
            Removing($"cannot delete container \"{id}\"", () => StagingDirectory.RemoveBundle(staged));
        }
        Removing($"cannot delete container \"{id}\"", () => FileTree.Remove(paths.Directory));
    }

    /// <summary>The stored state; while a create has claimed the id but its anchor has not written yet, waits a moment for it.</summary>
    private static async Task<ContainerState?> StoredOrCreatingAsync(ContainerPaths paths)
    {
        for (var waited = 0; ; waited++)
        {
            if (StateStore.Read(paths) is { } stored)
            {
                return stored;
            }
            if (waited >= 100 || !ContainerClaim.IsHeld(paths))
            {
                return null;
            }
            await Task.Delay(50);
        }
    }

    /// <summary>A removal whose failure is the verb's, said in one line after <paramref name="verb"/>.</summary>
    private static void Removing(string verb, Action remove)
    {
        try
        {
            remove();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerException($"{verb}: {e.Message}");
        }
    }

    /// <summary>The state root exists (created if needed) and is a directory scrun can write in.</summary>
    private static void EnsureRoot(string root)
    {
        if (File.Exists(root))
        {
            throw new ContainerException($"cannot use {root} as the state directory: it is not a directory");
        }
        try
        {
            // Only its owner reads it: containers' ids, bundles, job ids and sockets are nobody else's.
            Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerException($"cannot use {root} as the state directory: {e.Message}");
        }
        EnsureWritableDirectory(root, "the state directory");
    }

    private static void EnsureWritableDirectory(string directory, string what)
    {
        if (!Directory.Exists(directory))
        {
            throw new ContainerException(File.Exists(directory) ? $"{what}: {directory} is not a directory" : $"{what}: {directory} does not exist");
        }
        if (!LibC.CanWrite(directory))
        {
            throw new ContainerException($"{what}: cannot write in {directory}: {LibC.LastError()}");
        }
    }

    private static ContainerState StoredState(ContainerPaths paths, ContainerId id) =>
        StateStore.Read(paths) ?? throw new ContainerNotFoundException(id);

    private static void ThrowIfRefused(ControlResponse answer)
    {
        if (!answer.Ok)
        {
            throw new ContainerException(answer.Error ?? "the anchor refused the request", answer.Kind);
        }
    }
}
