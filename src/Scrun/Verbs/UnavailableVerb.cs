using Scrun.Cli;
using Serilog;

namespace Scrun.Verbs;

/// <summary>
/// The verbs whose machinery has not landed yet. They fail loudly, after the arguments were
/// fully validated, so a caller never mistakes scrun for a working runtime.
/// </summary>
internal static class UnavailableVerb
{
    public static int Run(VerbOptions options, ILogger log)
    {
        var reason = options switch
        {
            ExecOptions or PauseOptions or ResumeOptions => "is not supported by scrun yet",
            _ => "is not implemented yet",
        };
        log.Error("{Verb} {Reason}", options.Verb, reason);
        return 1;
    }
}
