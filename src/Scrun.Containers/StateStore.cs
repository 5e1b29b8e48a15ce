using System.Text.Json;
using Scrun.Containers.Interop;

namespace Scrun.Containers;

/// <summary>
/// <c>state.json</c> under the container's directory, written atomically (an exclusive temporary
/// file, then a rename) by the anchor at every transition, through the directory's descriptor.
/// It is read only from a directory and a file that belong to the caller and that nobody else
/// may write: what it names (a job, a staged bundle, a slurm.conf) scrun acts on with the
/// caller's rights, so it must be what the caller's own anchor wrote.
/// </summary>
internal static class StateStore
{
    public const string FileName = "state.json";

    /// <summary>Replaces state.json whole, or leaves the old one and says why (a full disk, a read-only one).</summary>
    /// <exception cref="ContainerException">The state could not be written.</exception>
    public static void Write(ContainerPaths paths, ContainerState state)
    {
        try
        {
            using var directory = DirectoryHandle.Open(paths.Directory);
            Write(directory, paths.Id, state);
        }
        catch (IOException e)
        {
            throw new ContainerException($"cannot record the state of container \"{paths.Id}\" in {paths.StateFile}: {e.Message}");
        }
    }

    /// <summary>Replaces state.json in the container's directory held open as <paramref name="directory"/>.</summary>
    /// <exception cref="ContainerException">The state could not be written.</exception>
    internal static void Write(DirectoryHandle directory, ContainerId id, ContainerState state) =>
        WriteFile(directory, id, FileName, stream => JsonSerializer.Serialize(stream, state, StateJsonContext.Default.ContainerState));

    /// <summary>Replaces one of the container's files (0600) in its directory held open as <paramref name="directory"/>.</summary>
    /// <exception cref="ContainerException">It could not be written.</exception>
    internal static void WriteFile(DirectoryHandle directory, ContainerId id, string name, Action<Stream> write)
    {
        try
        {
            ReplaceFile(directory, name, write, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerException($"cannot record the state of container \"{id}\" in {Path.Combine(directory.Path, name)}: {e.Message}");
        }
    }

    /// <summary>The state, or null when the container does not exist (no directory or no state yet).</summary>
    /// <exception cref="ContainerException">It is not the caller's to trust, or cannot be read.</exception>
    public static ContainerState? Read(ContainerPaths paths)
    {
        DirectoryHandle? directory;
        try
        {
            directory = DirectoryHandle.OpenIfExists(paths.Directory);
        }
        catch (IOException e)
        {
            throw new ContainerException($"cannot read the state of container \"{paths.Id}\": {e.Message}");
        }
        using (directory)
        {
            return directory is null ? null : Read(directory, paths.Id);
        }
    }

    /// <summary>The state in the container's directory held open as <paramref name="directory"/>; null when there is none yet.</summary>
    /// <exception cref="ContainerException">It is not the caller's to trust, or cannot be read.</exception>
    internal static ContainerState? Read(DirectoryHandle directory, ContainerId id) =>
        ReadFile(directory, id, FileName, stream => JsonSerializer.Deserialize(stream, StateJsonContext.Default.ContainerState));

    /// <summary>One of the container's files in its directory held open as <paramref name="directory"/>; null when there is none.</summary>
    /// <exception cref="ContainerException">It is not the caller's to trust, or cannot be read.</exception>
    internal static T? ReadFile<T>(DirectoryHandle directory, ContainerId id, string name, Func<Stream, T?> read)
        where T : class
    {
        var path = Path.Combine(directory.Path, name);
        try
        {
            EnsureTrusted(directory.Status(), id, directory.Path);
            using var stream = directory.OpenFile(name);
            if (stream is null)
            {
                return null;
            }
            EnsureTrusted(FileTree.Status((int)stream.SafeFileHandle.DangerousGetHandle()), id, path);
            return read(stream);
        }
        catch (UnauthorizedAccessException)
        {
            throw new ContainerException($"permission denied: container \"{id}\" belongs to another user");
        }
        catch (IOException e)
        {
            throw new ContainerException($"cannot read {path}: {e.Message}");
        }
        catch (JsonException e)
        {
            throw new ContainerException($"{path} is corrupt: {e.Message}");
        }
    }

    /// <summary>
    /// A container's directory or state file is trusted when it is the caller's and nobody else
    /// may change it: anything else was, or could have been, written by another user.
    /// </summary>
    internal static void EnsureTrusted(FileStatus status, ContainerId id, string path)
    {
        if (status.Uid != LibC.geteuid())
        {
            throw new ContainerException($"permission denied: container \"{id}\" belongs to uid {status.Uid}, not to uid {LibC.geteuid()} ({path})");
        }
        if (status.WritableByOthers)
        {
            throw new ContainerException($"container \"{id}\" cannot be trusted: others may write {path} (mode {status.Octal})");
        }
    }

    /// <summary>Writes a file whole or not at all (pid files), never through a link someone placed on the way.</summary>
    /// <exception cref="ContainerException">It could not be written; nothing is left behind.</exception>
    public static void WriteAtomically(string path, string content)
    {
        try
        {
            // The directory by its real path (/var/run is a link on Debian); the file itself is never reached through a link.
            using var directory = DirectoryHandle.Open(ContainerPaths.Resolve(Path.GetDirectoryName(Path.GetFullPath(path))!));
            ReplaceFile(directory, Path.GetFileName(path), stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(content)),
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerException($"cannot write {path}: {e.Message}");
        }
    }

    /// <summary>
    /// Writes <paramref name="name"/> whole: a new file under a name nobody can guess, created
    /// exclusively (a link or file planted there is never opened), then renamed over the old one.
    /// </summary>
    private static void ReplaceFile(DirectoryHandle directory, string name, Action<Stream> write, UnixFileMode mode)
    {
        var temporary = $".{name}.{KernelRandom.Hex(8)}.tmp";
        try
        {
            using (var stream = directory.CreateFile(temporary, mode))
            {
                write(stream);
                stream.Flush(flushToDisk: false);
            }
            directory.Rename(temporary, name);
        }
        catch
        {
            try
            {
                directory.RemoveFile(temporary);
            }
            catch (IOException)
            {
            }
            throw;
        }
    }
}
