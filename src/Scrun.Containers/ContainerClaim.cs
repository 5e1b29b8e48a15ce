using System.Runtime.InteropServices;
using Scrun.Containers.Interop;

namespace Scrun.Containers;

/// <summary>
/// Ownership of a container id: <c>&lt;root&gt;/&lt;id&gt;/</c> made with <c>mkdir</c> and held with
/// <c>flock(LOCK_EX)</c> by the create that made it, then by its anchor for the anchor's whole
/// life (the descriptor is inherited). Whoever holds the claim may change the directory; a
/// directory whose claim is held belongs to a live create or anchor and is never removed.
/// </summary>
internal sealed class ContainerClaim : IDisposable
{
    private int _descriptor;

    private ContainerClaim(int descriptor) => _descriptor = descriptor;

    /// <summary>The locked directory descriptor (inherited by the anchor).</summary>
    public int Descriptor => _descriptor;

    /// <summary>
    /// Makes the container's directory if needed and takes its claim; null when a live create or
    /// anchor holds it.
    /// </summary>
    public static ContainerClaim? TryTake(ContainerPaths paths) => Take(paths, LibC.LockExclusive | LibC.LockNonBlocking, create: true);

    /// <summary>Takes the claim of an existing directory, waiting up to <paramref name="patience"/>; null if it stays held or the directory is gone.</summary>
    public static ContainerClaim? TakeExisting(ContainerPaths paths, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            if (!Directory.Exists(paths.Directory))
            {
                return null;
            }
            if (Take(paths, LibC.LockExclusive | LibC.LockNonBlocking, create: false) is { } claim)
            {
                return claim;
            }
            if (DateTime.UtcNow >= deadline)
            {
                return null;
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>
    /// Waits as long as it takes for the claim of the directory as it is now; null once that
    /// directory is removed. The directory is held from the start: a state root renamed or
    /// lazily unmounted meanwhile does not lose it.
    /// </summary>
    public static ContainerClaim? WaitFor(ContainerPaths paths) => Take(paths, LibC.LockExclusive, create: false, sameByPath: false);

    /// <summary>Whether a live create or anchor holds the container's claim.</summary>
    public static bool IsHeld(ContainerPaths paths)
    {
        var fd = LibC.open(paths.Directory, LibC.ORdonly | LibC.ODirectory | LibC.ONofollow | LibC.OCloexec);
        if (fd < 0)
        {
            return false;
        }
        try
        {
            if (LibC.flock(fd, LibC.LockShared | LibC.LockNonBlocking) == 0)
            {
                return false; // closing the descriptor releases the shared lock just taken
            }
            return Marshal.GetLastPInvokeError() == LibC.Ewouldblock;
        }
        finally
        {
            LibC.close(fd);
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _descriptor, -1);
        if (fd >= 0)
        {
            LibC.close(fd);
        }
    }

    private static ContainerClaim? Take(ContainerPaths paths, int operation, bool create, bool sameByPath = true)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (create && LibC.mkdir(paths.Directory, 0b111_000_000) != 0 && Marshal.GetLastPInvokeError() != LibC.Eexist)
            {
                throw new ContainerException($"cannot create {paths.Directory}: {LibC.LastError()}");
            }
            var fd = LibC.open(paths.Directory, LibC.ORdonly | LibC.ODirectory | LibC.ONofollow | LibC.OCloexec);
            if (fd < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error == 2 /* ENOENT: removed meanwhile */ && create && attempt < 10)
                {
                    continue;
                }
                if (error == 2)
                {
                    return null;
                }
                throw new ContainerException($"cannot open {paths.Directory}: {LibC.LastError()}");
            }
            int locked;
            while ((locked = LibC.flock(fd, operation)) != 0 && Marshal.GetLastPInvokeError() == LibC.Eintr)
            {
            }
            if (locked != 0)
            {
                var error = Marshal.GetLastPInvokeError();
                LibC.close(fd);
                return error == LibC.Ewouldblock ? null : throw new ContainerException($"cannot lock {paths.Directory}: {Marshal.GetPInvokeErrorMessage(error)}");
            }
            // The holder before us may have removed the directory it held: then ours is an orphan.
            if (sameByPath ? FileTree.IsSameDirectory(fd, paths.Directory) : !FileTree.IsRemoved(fd))
            {
                return new ContainerClaim(fd);
            }
            LibC.close(fd);
            if (!create || attempt >= 10)
            {
                return null;
            }
        }
    }
}
