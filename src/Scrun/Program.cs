using Scrun.Cli;
using Scrun.Logging;
using Scrun.Verbs;

namespace Scrun;

internal static class Program
{
    private static int Main(string[] args)
    {
        try
        {
            return Run(args);
        }
        catch (Exception e)
        {
            // Never a stack trace: one line, with what the exception says. A bug, but the caller
            // (an engine parsing stderr) gets a line it can show.
            Console.Error.Write($"scrun: error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}\n");
            return 1;
        }
    }

    private static int Run(string[] args)
    {
        switch (new ScrunCommandLine().Parse(args))
        {
            case CommandLineOutcome.Invalid invalid:
                Console.Error.Write($"scrun: error: {invalid.Message}\n");
                return 1;
            case CommandLineOutcome.Help help:
                return help.ParseResult.Invoke();
            case CommandLineOutcome.Run { Verb: AnchorOptions }:
                return AnchorVerb.Run();
            case CommandLineOutcome.Run { Verb: GuardOptions }:
                return GuardVerb.Run();
            case CommandLineOutcome.Run { Verb: ExecRelayOptions }:
                return ExecVerbs.Relay();
            case CommandLineOutcome.Run { Verb: LeaseOptions }:
                return LeaseVerb.Run();
            case CommandLineOutcome.Run { Verb: NodeRunOptions nodeRun }:
                return NodeRunVerb.Run(nodeRun);
            case CommandLineOutcome.Run run:
                Serilog.Core.Logger logger;
                try
                {
                    logger = ScrunLogging.Create(run.Global.Log, Console.Error);
                }
                catch (LogConfigurationException e)
                {
                    Console.Error.Write($"scrun: error: {e.Message}\n");
                    return 1;
                }
                using (logger)
                {
                    return VerbRunner.Run(run.Global, run.Verb, logger, Console.Out);
                }
            default:
                throw new InvalidOperationException("unreachable");
        }
    }
}
