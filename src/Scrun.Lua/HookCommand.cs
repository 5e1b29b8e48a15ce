using System.Diagnostics;
using System.Text;

namespace Scrun.Lua;

/// <summary>
/// <c>slurm.allocator_command</c> (here) and <c>slurm.remote_command</c> (a step on the job's
/// nodes through srun): <c>/bin/sh -c SCRIPT</c> with the job's environment, stdout and stderr
/// together, in a session of its own so that a timeout kills everything it started.
/// </summary>
internal static class HookCommand
{
    public static (int Status, string Output) Run(bool remote, string script, HookContext context, CommandGroups groups)
    {
        var psi = new ProcessStartInfo("setsid")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (remote)
        {
            psi.ArgumentList.Add(context.Srun);
            foreach (var argument in context.SrunArgs)
            {
                psi.ArgumentList.Add(argument);
            }
            psi.ArgumentList.Add($"--jobid={context.JobId}");
            psi.ArgumentList.Add("--no-kill");
            psi.ArgumentList.Add("--job-name=lua-command");
            psi.ArgumentList.Add("--");
        }
        psi.ArgumentList.Add("/bin/sh");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        if (context.JobEnvironment.Count > 0)
        {
            psi.Environment.Clear();
            foreach (var (name, value) in context.JobEnvironment)
            {
                psi.Environment[name] = value;
            }
            if (!psi.Environment.ContainsKey("PATH"))
            {
                psi.Environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
            }
        }
        var what = remote ? "slurm.remote_command" : "slurm.allocator_command";
        using var process = groups.Start(psi, what);
        process.StandardInput.Close();
        var output = new StringBuilder();
        var gate = new Lock();
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(context.CommandTimeout))
        {
            // setsid made the shell a session and process-group leader: the group is everything it started.
            ProcessTree.KillGroup(process.Id);
            process.WaitForExit();
            groups.Ended(process);
            throw new TimeoutException($"{what}(\"{Shorten(script)}\") did not finish within {TimeLimit.Describe(context.CommandTimeout)} and was killed");
        }
        process.WaitForExit();
        groups.Ended(process);
        if (groups.Interrupted)
        {
            throw new OperationCanceledException($"{what}(\"{Shorten(script)}\") was killed: the staging hook was interrupted");
        }
        lock (gate)
        {
            return (process.ExitCode, output.ToString());
        }

        void Append(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (gate)
            {
                output.Append(line).Append('\n');
            }
        }
    }

    private static string Shorten(string script) => script.Length <= 60 ? script : script[..57] + "...";
}

/// <summary>
/// The process groups of the commands a script is running, so that an interrupted hook (its
/// time limit, or <c>delete --force</c>) can kill them, and no new one starts afterwards.
/// </summary>
internal sealed class CommandGroups
{
    private readonly HashSet<int> _running = [];
    private readonly Lock _gate = new();
    private bool _interrupted;

    public bool Interrupted
    {
        get
        {
            lock (_gate)
            {
                return _interrupted;
            }
        }
    }

    public Process Start(ProcessStartInfo psi, string what)
    {
        lock (_gate)
        {
            if (_interrupted)
            {
                throw new OperationCanceledException($"{what} refused: the staging hook was interrupted");
            }
            var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /bin/sh");
            _running.Add(process.Id);
            return process;
        }
    }

    public void Ended(Process process)
    {
        lock (_gate)
        {
            _running.Remove(process.Id);
        }
    }

    /// <summary>Kills every running command and refuses new ones.</summary>
    public void Interrupt()
    {
        lock (_gate)
        {
            _interrupted = true;
            foreach (var leader in _running)
            {
                ProcessTree.KillGroup(leader);
            }
        }
    }
}
