using System.Diagnostics;
using Scrun.Lua;
using Xunit;

namespace Scrun.Tests.Lua;

public sealed class ProcessTreeTests
{
    [Fact]
    public void Killing_descendants_reaches_grandchildren_and_the_groups_they_lead()
    {
        var marker = Random.Shared.Next(10000, 20000);
        // A grandchild, and a group of its own whose member left the tree when its parent exited.
        using var shell = Process.Start(new ProcessStartInfo("/bin/sh",
            ["-c", $"sh -c 'sleep 1{marker}; true' & setsid sh -c '(sleep 2{marker} &); sleep 3{marker}' & wait"]))!;
        Assert.True(WaitUntil(() => ProcessTree.Descendants(shell.Id).Count >= 4 && Pids($"sleep 2{marker}").Count == 1), "the sleeps did not start");
        var orphan = Pids($"sleep 2{marker}").Single();
        Assert.DoesNotContain(ProcessTree.Descendants(shell.Id), d => d.Pid == orphan);
        var descendants = ProcessTree.Descendants(shell.Id).Select(d => d.Pid).ToList();

        Assert.Equal(4, ProcessTree.KillDescendants(shell.Id)); // two shells, two sleeps
        Assert.True(shell.WaitForExit(TimeSpan.FromSeconds(30)), "the shell did not see its children die");
        Assert.True(WaitUntil(() => descendants.Append(orphan).All(pid => !Alive(pid))), "a process survived");
    }

    private static bool Alive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(") ")[^1].StartsWith('Z');

    private static List<int> Pids(string commandLine) =>
        Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(name => name is { Length: > 0 } && char.IsAsciiDigit(name[0]))
            .Select(name => (Pid: int.Parse(name!, System.Globalization.CultureInfo.InvariantCulture), Command: CommandLine(name!)))
            .Where(p => p.Command == commandLine)
            .Select(p => p.Pid)
            .ToList();

    private static string CommandLine(string pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static bool WaitUntil(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(30))
            {
                return false;
            }
            Thread.Sleep(50);
        }
        return true;
    }
}
