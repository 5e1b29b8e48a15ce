using System.Diagnostics;

namespace Scrun.Containers.Anchor;

/// <summary>Everything the step's srun needs.</summary>
public sealed record SrunLaunch(
    string? SrunPath,
    IReadOnlyList<string> SrunArgs,
    uint JobId,
    string JobName,
    string ContainerId,
    bool PassContainerId,
    string Bundle,
    string? Terminal,
    IReadOnlyList<string> StepArguments,
    IReadOnlyList<string> Args,
    IReadOnlyDictionary<string, string> Environment,
    string WorkingDirectory);

/// <summary>
/// Runs the container's step: <c>srun --jobid J --container BUNDLE [--container-id ID] [--pty] -- ARGS</c>.
/// srun inherits the anchor's stdin and stdout, which are the container's, and its stderr
/// reaches the container's through <see cref="StepErrorFilter"/> (a terminal carries all three); its
/// environment is the container's own <c>process.env</c> (slurmstepd makes it the container's
/// environment) plus what Slurm and scrun add.
/// </summary>
public static class SrunLauncher
{
    public static IReadOnlyList<string> Arguments(SrunLaunch launch)
    {
        var arguments = new List<string>(launch.SrunArgs)
        {
            $"--jobid={launch.JobId}",
            $"--job-name={launch.JobName}",
            $"--container={launch.Bundle}",
        };
        if (launch.PassContainerId)
        {
            arguments.Add($"--container-id={launch.ContainerId}");
        }
        if (launch.Terminal is not null)
        {
            arguments.Add("--pty");
        }
        arguments.AddRange(launch.StepArguments);
        arguments.Add("--");
        arguments.AddRange(launch.Args);
        return arguments;
    }

    public static Process Start(SrunLaunch launch)
    {
        var srun = Resolve(launch.SrunPath);
        ProcessStartInfo psi;
        if (launch.Terminal is { } terminal)
        {
            // srun --pty needs the pty as its stdio and controlling terminal: a new session
            // (setsid --ctty makes stdin the controlling terminal).
            psi = new ProcessStartInfo("/bin/sh")
            {
                ArgumentList = { "-c", "exec setsid --ctty \"$0\" \"$@\" <\"$SCRUN_TERMINAL\" >\"$SCRUN_TERMINAL\" 2>&1", srun },
            };
            psi.Environment["SCRUN_TERMINAL"] = terminal;
        }
        else
        {
            // stdin and stdout are the container's as they are; stderr passes StepErrorFilter.
            psi = new ProcessStartInfo(srun) { RedirectStandardError = true };
        }
        psi.UseShellExecute = false;
        psi.WorkingDirectory = launch.WorkingDirectory;
        foreach (var argument in Arguments(launch))
        {
            psi.ArgumentList.Add(argument);
        }
        var terminalVariable = psi.Environment.TryGetValue("SCRUN_TERMINAL", out var path) ? path : null;
        psi.Environment.Clear();
        foreach (var (key, value) in launch.Environment)
        {
            psi.Environment[key] = value;
        }
        if (terminalVariable is not null)
        {
            psi.Environment["SCRUN_TERMINAL"] = terminalVariable;
        }
        return Process.Start(psi) ?? throw new ContainerException("srun did not start");
    }

    /// <summary>oci.conf's SrunPath, else srun from the anchor's PATH, else the usual places.</summary>
    public static string Resolve(string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured) ? configured : throw new ContainerException($"SrunPath={configured} (oci.conf) does not exist");
        }
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var directory in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin").Append("/usr/local/bin"))
        {
            var candidate = Path.Combine(directory, "srun");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new ContainerException("srun not found in PATH, /usr/bin or /usr/local/bin: set SrunPath in oci.conf");
    }
}
