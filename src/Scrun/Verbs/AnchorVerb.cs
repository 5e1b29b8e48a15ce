using System.Runtime.InteropServices;
using Scrun.Containers;
using Scrun.Containers.Anchor;
using Scrun.Containers.Interop;
using Scrun.Slurm;
using Scrun.Slurm.Interop;
using Serilog;

namespace Scrun.Verbs;

/// <summary>
/// The hidden <c>__anchor</c> verb: the process create leaves behind, one per container. It runs
/// out of create's session (a Ctrl-C or a timeout meant for create must not reach it), with TERM,
/// INT and HUP taken as the container's signals; its exit status is the container's.
/// </summary>
internal static class AnchorVerb
{
    public static int Run(LaunchContext? launch, ILogger log, TextWriter stderr)
    {
        if (launch is null)
        {
            log.Error("{Verb} is started by scrun create, not by hand", LaunchContext.AnchorVerb);
            return 1;
        }
        ContainerAnchor anchor;
        try
        {
            anchor = ContainerAnchor.FromLaunch(launch, Environment.GetEnvironmentVariable(SlurmClientSettings.JwtVariable), log, stderr);
        }
        catch (ContainerException e)
        {
            log.Error("{Message}", e.Message);
            return 1;
        }
        ProcessSession.Leave();
        var signals = new[] { (PosixSignal.SIGTERM, Signal.Terminate), (PosixSignal.SIGINT, Signal.Interrupt), (PosixSignal.SIGHUP, Signal.Hangup) }
            .Select(pair => PosixSignalRegistration.Create(pair.Item1, context =>
            {
                context.Cancel = true;
                _ = Task.Run(() => anchor.SignalAsync(pair.Item2));
            }))
            .ToList();
        try
        {
            return anchor.RunAsync().GetAwaiter().GetResult();
        }
        finally
        {
            signals.ForEach(s => s.Dispose());
        }
    }
}
