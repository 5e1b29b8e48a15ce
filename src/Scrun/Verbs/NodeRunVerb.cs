using System.Runtime.InteropServices;
using Scrun.Cli;
using Scrun.Containers.Interop;
using Scrun.Containers.NodeControl;

namespace Scrun.Verbs;

/// <summary><c>scrun node-run -- RUNTIME...</c>: oci.conf's RunTimeRun on a compute node (<see cref="NodeRunner"/>).</summary>
internal static class NodeRunVerb
{
    /// <summary>
    /// What Slurm sends every process of the step (scancel, a time limit): the runtime relays
    /// them to the container itself; node-run must only outlive them to report the runtime's status.
    /// </summary>
    private static readonly PosixSignal[] s_outlived = [PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP, PosixSignal.SIGQUIT];

    public static int Run(NodeRunOptions options)
    {
        // The task's stderr is the container's: only scrun's own failures are written there, straight to descriptor 2.
        using var stderr = new StreamWriter(new DescriptorStream(2)) { AutoFlush = true };
        return new NodeRunner(options.Command, stderr, whileRuntimeRuns: () => new SwallowedSignals(s_outlived)).RunAsync().GetAwaiter().GetResult();
    }
}
