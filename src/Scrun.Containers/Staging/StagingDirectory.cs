using Scrun.Containers.Interop;

namespace Scrun.Containers.Staging;

/// <summary>
/// The directory a staged bundle is made in, held open: a container's own directory, or a
/// shared one (<c>SCRUN_STAGING_DIR</c>, often on a shared file system with mode 1777). Another
/// user who may replace entries there could swap a bundle for one of theirs, which would then
/// run in the victim's job as the victim: such a directory is refused unless it is sticky, and
/// an entry of the container's name that is not ours is refused, never removed or entered.
/// </summary>
internal static class StagingDirectory
{
    /// <summary>Opens and checks <paramref name="path"/>; <paramref name="variable"/> names where the user set it, for the error.</summary>
    /// <exception cref="ContainerException">It is missing, a link, or others could replace what is staged in it.</exception>
    public static DirectoryHandle Open(string path, string? variable)
    {
        var what = variable is null ? $"the staging directory {path}" : $"{variable}={path}";
        DirectoryHandle directory;
        try
        {
            directory = DirectoryHandle.Open(path);
        }
        catch (IOException e)
        {
            throw new ContainerException($"cannot stage the bundle in {what}: {e.Message}");
        }
        try
        {
            var status = directory.Status();
            if (!FileOwners.MayHold(status.Uid))
            {
                throw new ContainerException($"cannot stage the bundle in {what}: it belongs to uid {status.Uid}, who could replace what scrun stages there");
            }
            if (status.WritableByOthers && !status.Sticky)
            {
                throw new ContainerException($"cannot stage the bundle in {what}: others may write in it and it is not sticky (mode {status.Octal}), so they could replace what scrun stages there; make it 1777 or private");
            }
            return directory;
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>Checks <paramref name="path"/> as <see cref="Open"/> does, at create, before a job exists; nothing is made.</summary>
    public static void Check(string path, string variable) => Open(path, variable).Dispose();

    /// <summary>Removes the entry <paramref name="name"/> a container of this id left, if it is ours; refuses one that is another user's.</summary>
    public static void RemoveLeftover(DirectoryHandle parent, string name)
    {
        if (parent.StatusOf(name) is not { } entry)
        {
            return;
        }
        if (entry.Uid != LibC.geteuid())
        {
            throw new ContainerException($"cannot stage the bundle: {Path.Combine(parent.Path, name)} exists and belongs to uid {entry.Uid}");
        }
        parent.Remove(name);
    }

    /// <summary>
    /// Removes a staged bundle scrun made, named by the container's state, if it is still there
    /// and ours: never another user's entry of the same name.
    /// </summary>
    /// <exception cref="IOException">It could not be removed; the message names what.</exception>
    public static void RemoveBundle(string bundle)
    {
        using var parent = DirectoryHandle.OpenIfExists(Path.GetDirectoryName(bundle)!);
        var name = Path.GetFileName(bundle);
        if (parent?.StatusOf(name) is { } entry && entry.Uid == LibC.geteuid())
        {
            parent.Remove(name);
        }
    }
}
