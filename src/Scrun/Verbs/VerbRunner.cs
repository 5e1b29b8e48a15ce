using Scrun.Cli;
using Serilog;

namespace Scrun.Verbs;

/// <summary>Runs the verb the command line asked for and returns the process exit code.</summary>
internal static class VerbRunner
{
    public static int Run(GlobalOptions global, VerbOptions verb, ILogger log, TextWriter stdout)
    {
        foreach (var flag in global.IgnoredFlags)
        {
            log.Debug("ignoring {Flag}: scrun does not manage cgroups on the login node", flag);
        }
        return verb switch
        {
            VersionOptions => VersionVerb.Run(stdout),
            FeaturesOptions => FeaturesVerb.Run(stdout),
            CheckOptions => CheckVerb.Run(global, stdout),
            RunOptions run => RunVerb.Run(global, run, log),
            CreateOptions or StartOptions or StateOptions or KillOptions or DeleteOptions or ExecOptions or PauseOptions or ResumeOptions => LifecycleVerbs.Run(global, (ContainerVerbOptions)verb, log, stdout),
            _ => throw new InvalidOperationException($"no handler for {verb.Verb}"),
        };
    }
}
