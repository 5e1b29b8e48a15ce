using System.Text.Json;

namespace Scrun.Containers;

/// <summary>
/// <c>state.json</c> under the container's directory, written atomically (temporary file, then
/// rename) by the anchor at every transition; anyone may read it.
/// </summary>
public static class StateStore
{
    /// <summary>Replaces state.json whole, or leaves the old one and says why (a full disk, a read-only one).</summary>
    /// <exception cref="ContainerException">The state could not be written.</exception>
    public static void Write(ContainerPaths paths, ContainerState state)
    {
        var temporary = paths.StateFile + ".tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                JsonSerializer.Serialize(stream, state, StateJsonContext.Default.ContainerState);
                stream.Flush(flushToDisk: false);
            }
            File.Move(temporary, paths.StateFile, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
            }
            throw new ContainerException($"cannot record the state of container \"{paths.Id}\" in {paths.StateFile}: {e.Message}");
        }
    }

    /// <summary>The state, or null when the container does not exist (no directory or no state yet).</summary>
    public static ContainerState? Read(ContainerPaths paths)
    {
        try
        {
            using var stream = File.OpenRead(paths.StateFile);
            return JsonSerializer.Deserialize(stream, StateJsonContext.Default.ContainerState);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            throw new ContainerException($"permission denied: container \"{paths.Id}\" belongs to another user");
        }
        catch (IOException e)
        {
            throw new ContainerException($"cannot read {paths.StateFile}: {e.Message}");
        }
        catch (JsonException e)
        {
            throw new ContainerException($"{paths.StateFile} is corrupt: {e.Message}");
        }
    }

    /// <summary>Writes a file whole or not at all (pid files).</summary>
    /// <exception cref="ContainerException">It could not be written; nothing is left behind.</exception>
    public static void WriteAtomically(string path, string content)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            File.WriteAllText(temporary, content);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
            }
            throw new ContainerException($"cannot write {path}: {e.Message}");
        }
    }
}
