using System.Globalization;
using Scrun.Slurm.Interop;

namespace Scrun.Lua;

/// <summary>The processes a process started, read from /proc; and killing them.</summary>
internal static partial class ProcessTree
{
    /// <summary>
    /// SIGKILLs every descendant of <paramref name="pid"/> and the process groups they lead
    /// (what a staging hook's shell commands left running), and returns how many were found.
    /// </summary>
    public static int KillDescendants(int pid)
    {
        var ownGroup = GroupOf(pid);
        var descendants = Descendants(pid);
        foreach (var (child, group) in descendants)
        {
            if (group != ownGroup && group > 1)
            {
                _ = kill(-group, Signal.Kill.Number);
            }
            _ = kill(child, Signal.Kill.Number);
        }
        return descendants.Count;
    }

    public static List<(int Pid, int Group)> Descendants(int pid)
    {
        var children = new Dictionary<int, List<(int Pid, int Group)>>();
        foreach (var (child, parent, group) in All())
        {
            if (!children.TryGetValue(parent, out var list))
            {
                children[parent] = list = [];
            }
            list.Add((child, group));
        }
        var found = new List<(int, int)>();
        var queue = new Queue<int>([pid]);
        while (queue.TryDequeue(out var next))
        {
            foreach (var child in children.GetValueOrDefault(next) ?? [])
            {
                found.Add(child);
                queue.Enqueue(child.Pid);
            }
        }
        return found;
    }

    /// <summary>SIGKILLs a process group and its leader (a command started with setsid).</summary>
    public static void KillGroup(int leader)
    {
        _ = kill(-leader, Signal.Kill.Number);
        _ = kill(leader, Signal.Kill.Number);
    }

    private static int GroupOf(int pid) =>
        Stat(pid.ToString(CultureInfo.InvariantCulture)) is { } stat ? stat.Group : -1;

    private static IEnumerable<(int Pid, int Parent, int Group)> All()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(directory);
            if (name.Length > 0 && char.IsAsciiDigit(name[0]) && Stat(name) is { } stat)
            {
                yield return (int.Parse(name, CultureInfo.InvariantCulture), stat.Parent, stat.Group);
            }
        }
    }

    /// <summary>Fields 4 and 5 of /proc/PID/stat, after the command name in parentheses (which may hold anything).</summary>
    private static (int Parent, int Group)? Stat(string pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // gone meanwhile
        }
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length > 2
            && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent)
            && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var group)
            ? (parent, group) : null;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
