using System.Diagnostics;
using Scrun.Containers.Interop;
using Scrun.Slurm.Config;
using Scrun.Slurm.Wire;
using Serilog;

namespace Scrun.Containers.Anchor;

/// <summary>
/// Runs the container's step with <c>srun --jobid J --container BUNDLE [--container-id ID] [--pty] -- ARGS</c>
/// (oci.conf's SrunPath and SrunArgs). srun inherits the anchor's stdin and stdout, which are
/// the container's, and its stderr reaches the container's through <see cref="StepErrorFilter"/>
/// (a terminal carries all three); its environment is the container's own <c>process.env</c>
/// (slurmstepd makes it the container's environment) plus what Slurm and scrun add.
/// </summary>
internal sealed class SrunStepLauncher(OciConfig oci, ILogger log) : IStepLauncher
{
    /// <summary>How long the step's stderr may outlive srun (a process srun left holding it).</summary>
    private static readonly TimeSpan s_drain = TimeSpan.FromSeconds(5);

    public static IReadOnlyList<string> Arguments(IReadOnlyList<string> srunArgs, StepLaunch launch)
    {
        var arguments = new List<string>(srunArgs)
        {
            $"--jobid={launch.JobId}",
            $"--job-name={launch.JobName}",
            $"--container={launch.Bundle}",
        };
        if (launch.Protocol is { } version && version >= ProtocolVersion.V23_02)
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

    public Task<IStep> StartAsync(StepLaunch launch, CancellationToken cancellation) => Task.FromResult(Start(launch));

    private IStep Start(StepLaunch launch)
    {
        var srun = Resolve(oci.SrunPath);
        ProcessStartInfo psi;
        if (launch.Terminal is { } terminal)
        {
            // srun --pty needs the pty as its stdio and controlling terminal: a new session
            // (setsid --ctty makes stdin the controlling terminal).
            psi = new ProcessStartInfo("/bin/sh")
            {
                ArgumentList = { "-c", "exec setsid --ctty \"$0\" \"$@\" <\"$SCRUN_TERMINAL\" >\"$SCRUN_TERMINAL\" 2>&1", srun },
            };
        }
        else
        {
            // stdin and stdout are the container's as they are; stderr passes StepErrorFilter.
            psi = new ProcessStartInfo(srun) { RedirectStandardError = true };
        }
        psi.UseShellExecute = false;
        psi.WorkingDirectory = launch.WorkingDirectory;
        foreach (var argument in Arguments(oci.SrunArgs, launch))
        {
            psi.ArgumentList.Add(argument);
        }
        psi.Environment.Clear();
        foreach (var (key, value) in launch.Environment)
        {
            psi.Environment[key] = value;
        }
        if (launch.Terminal is { } path)
        {
            psi.Environment["SCRUN_TERMINAL"] = path;
        }
        try
        {
            var process = Process.Start(psi) ?? throw new ContainerException("srun did not start");
            return new SrunStep(process, log);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ContainerException($"cannot run {srun}: {e.Message}");
        }
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

    private sealed class SrunStep : IStep
    {
        private readonly Process _srun;
        private readonly Task _errors;
        private readonly ILogger _log;

        public SrunStep(Process srun, ILogger log)
        {
            _srun = srun;
            _log = log;
            _errors = srun.StartInfo.RedirectStandardError
                ? Task.Run(() => StepErrorFilter.RelayAsync(srun.StandardError.BaseStream, new DescriptorStream(2)))
                : Task.CompletedTask;
            Completion = WaitForExitAsync();
        }

        public StepCapabilities Can => StepCapabilities.Srun;

        public Task<int> Completion { get; }

        public uint? StepNumber => null;

        public void Conclude(int exitCode) => throw new NotSupportedException("srun ends on Slurm's word alone");

        public void GiveUp(string why) => throw new NotSupportedException("srun hears of its job's end itself");

        public void TerminalResized() => throw new NotSupportedException("srun reads its terminal's size itself");

        public void Dispose() => _srun.Dispose();

        private async Task<int> WaitForExitAsync()
        {
            await _srun.WaitForExitAsync();
            try
            {
                await _errors.WaitAsync(s_drain);
            }
            catch (Exception e) when (e is TimeoutException or IOException)
            {
                _log.Warning("the step's stderr did not end with srun: {Reason}", e.Message);
            }
            return _srun.ExitCode;
        }
    }
}
