using Scrun.Cli;
using Scrun.Containers;
using Scrun.Containers.Interop;

namespace Scrun.Verbs;

/// <summary>exec, pause and resume: options in, lifecycle calls out, errors as one line; and the hidden relay of an exec.</summary>
internal static class ExecVerbs
{
    public static int Run(ContainerLifecycle lifecycle, ContainerVerbOptions verb)
    {
        switch (verb)
        {
            case ExecOptions exec:
                if (exec.PreserveFds > 0)
                {
                    throw new ContainerException($"--preserve-fds {exec.PreserveFds}: file descriptors cannot be passed to a process that runs on a compute node");
                }
                return lifecycle.ExecAsync(new ExecRequest
                {
                    Id = exec.ContainerId,
                    ProcessFile = exec.ProcessFile,
                    Detach = exec.Detach,
                    PidFile = exec.PidFile,
                    ConsoleSocket = exec.ConsoleSocket,
                    Tty = exec.Tty,
                    Cwd = exec.Cwd,
                    Env = exec.Env,
                    User = exec.User,
                    Capabilities = exec.Capabilities,
                    NoNewPrivileges = exec.NoNewPrivileges,
                    Command = exec.Command,
                }).GetAwaiter().GetResult();
            case PauseOptions pause:
                lifecycle.PauseAsync(pause.ContainerId).GetAwaiter().GetResult();
                return 0;
            case ResumeOptions resume:
                lifecycle.ResumeAsync(resume.ContainerId).GetAwaiter().GetResult();
                return 0;
            default:
                throw new InvalidOperationException($"not an exec verb: {verb.Verb}");
        }
    }

    /// <summary>
    /// The hidden <c>__exec</c> verb: the relay exec leaves behind for its process. Its stdio is
    /// the process's (handed to the anchor); its own errors go to stderr, which is the process's too.
    /// </summary>
    public static int Relay()
    {
        using var stderr = new StreamWriter(new DescriptorStream(2)) { AutoFlush = true };
        if (ExecLaunch.TakeFromEnvironment() is not { } launch)
        {
            stderr.Write($"scrun: error: {ExecLaunch.Verb} is started by scrun exec, not by hand\n");
            return 1;
        }
        return ExecRelay.Run(launch, stderr);
    }
}
