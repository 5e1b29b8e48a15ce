using System.Text.Json;

namespace Scrun.Containers;

/// <summary>
/// <c>state.json</c> under the container's directory, written atomically (temporary file, then
/// rename) by the anchor at every transition; anyone may read it.
/// </summary>
public static class StateStore
{
    public static void Write(ContainerPaths paths, ContainerState state)
    {
        var temporary = paths.StateFile + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, state, StateJsonContext.Default.ContainerState);
            stream.Flush(flushToDisk: false);
        }
        File.Move(temporary, paths.StateFile, overwrite: true);
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
        catch (JsonException e)
        {
            throw new ContainerException($"{paths.StateFile} is corrupt: {e.Message}");
        }
    }

    /// <summary>Writes a file whole or not at all (pid files).</summary>
    public static void WriteAtomically(string path, string content)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }
}
