using Scrun.Cli;
using Scrun.Containers;
using Serilog;

namespace Scrun.Verbs;

/// <summary>
/// run: create and start in one call, as runc's run. Detached, it returns once the container
/// runs. Otherwise it stays in the foreground: the container's stdio is run's (the anchor has
/// it), the signals run receives are passed on to the container, and once the container has
/// exited run deletes it (unless <c>--keep</c>) and exits with its exit code.
/// </summary>
internal static class RunVerb
{
    public static int Run(GlobalOptions global, RunOptions run, ILogger log)
    {
        try
        {
            var lifecycle = LifecycleVerbs.Lifecycle(global);
            // Until the container is created a signal ends run as it ends create: the anchor sees its creator gone and undoes the creation.
            using var container = lifecycle.CreateAttachedAsync(LifecycleVerbs.LaunchOf(global, run.Create), LifecycleVerbs.ProcessEnvironment()).GetAwaiter().GetResult();
            // From here a signal must not end run, which would leave the container to nobody: it is the container's.
            using var signals = new ForwardedSignals(signal => lifecycle.KillAsync(container.Id, signal, all: false), log);
            container.StartAsync().GetAwaiter().GetResult();
            if (run.Detach)
            {
                return 0;
            }
            var exitCode = container.WaitForExitAsync().GetAwaiter().GetResult();
            signals.Stop();
            if (!run.Keep)
            {
                Delete(lifecycle, container.Id, log);
            }
            return exitCode;
        }
        catch (ContainerException e)
        {
            log.Error("{Message}", e.Message);
            return e.ExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Error("{Verb}: {Message}", run.Verb, e.Message);
            return 1;
        }
    }

    /// <summary>Removes the container that has exited, as runc's run does; a delete that fails is said, and run's exit code stays the container's.</summary>
    private static void Delete(ContainerLifecycle lifecycle, ContainerId id, ILogger log)
    {
        try
        {
            lifecycle.DeleteAsync(id, force: false).GetAwaiter().GetResult();
        }
        catch (ContainerException e)
        {
            log.Error("{Message}", e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Error("run: {Message}", e.Message);
        }
    }
}
