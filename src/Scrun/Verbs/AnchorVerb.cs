using System.Runtime.InteropServices;
using Scrun.Containers;
using Scrun.Containers.Anchor;
using Scrun.Containers.Interop;
using Scrun.Logging;
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
    /// <summary>
    /// The anchor as create starts it. Its stderr is the container's: it writes there through
    /// descriptor 2 itself (Console would keep duplicates of it open, a FileStream its own file
    /// offset); its log goes to --log, and to stderr only if oci.conf asks.
    /// </summary>
    public static int Run()
    {
        var launch = LaunchContext.TakeFromEnvironment();
        using var stderr = new StreamWriter(new DescriptorStream(2)) { AutoFlush = true };
        using var log = ScrunLogging.ForAnchor(launch, stderr);
        return Run(launch, log, stderr);
    }

    public static int Run(LaunchContext? launch, ILogger log, TextWriter stderr)
    {
        if (launch is null)
        {
            // No context, so no --log to say it in: an anchor started by hand says it on its stderr.
            stderr.Write($"scrun: error: {LaunchContext.AnchorVerb} is started by scrun create, not by hand\n");
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
            stderr.Write($"scrun: error: {e.Message}\n");
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
