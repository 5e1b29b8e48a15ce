using System.Runtime.InteropServices;
using Scrun.Containers;
using Scrun.Containers.Interop;
using Scrun.Logging;
using Serilog;

namespace Scrun.Verbs;

/// <summary>
/// The hidden <c>__guard</c> verb: the process create starts before the anchor, which ends the
/// container's job once the anchor is gone (<see cref="ContainerGuard"/>).
/// </summary>
internal static class GuardVerb
{
    /// <summary>The guard as create starts it: its context in the environment, its log the anchor's (create's --log).</summary>
    public static int Run()
    {
        var launch = LaunchContext.TakeFromEnvironment();
        using var stderr = new StreamWriter(new DescriptorStream(2)) { AutoFlush = true };
        using var log = ScrunLogging.ForAnchor(launch, TextWriter.Null);
        return Run(launch, log, stderr);
    }

    public static int Run(LaunchContext? launch, ILogger log, TextWriter stderr)
    {
        if (launch is null)
        {
            // No context, so no --log to say it in: a guard started by hand says it on its stderr, still the caller's.
            stderr.Write($"scrun: error: {ContainerGuard.Verb} is started by scrun create, not by hand\n");
            return 1;
        }
        // Out of create's session, its stdio let go: the guard outlives create and its caller.
        ProcessSession.Detach();
        // A Ctrl-C, a hang-up or a TERM meant for the engine or the anchor is not the guard's end.
        using var swallowed = new SwallowedSignals(PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP);
        return ContainerGuard.Watch(new ContainerPaths(launch.Root, ContainerId.Parse(launch.Id)), log);
    }
}
