using Scrun.Cli;
using Scrun.Logging;
using Scrun.Verbs;

namespace Scrun;

internal static class Program
{
    private static int Main(string[] args)
    {
        var stdout = Console.Out;
        var stderr = Console.Error;
        switch (new ScrunCommandLine().Parse(args))
        {
            case CommandLineOutcome.Invalid invalid:
                stderr.Write($"scrun: error: {invalid.Message}\n");
                return 1;
            case CommandLineOutcome.Help help:
                return help.ParseResult.Invoke();
            case CommandLineOutcome.Run { Verb: AnchorOptions } anchor:
                // The anchor's stderr is the container's: its log goes to --log only.
                using (var log = ScrunLogging.ForAnchor())
                {
                    return AnchorVerb.Run(log, stderr);
                }
            case CommandLineOutcome.Run run:
                using (var log = ScrunLogging.Create(run.Global, stderr))
                {
                    return VerbRunner.Run(run.Global, run.Verb, log, stdout);
                }
            default:
                throw new InvalidOperationException("unreachable");
        }
    }
}
