using Scrun.Containers;
using Scrun.Containers.Anchor;
using Serilog;

namespace Scrun.Verbs;

/// <summary>The hidden <c>__anchor</c> verb: the process create leaves behind, one per container.</summary>
internal static class AnchorVerb
{
    public static int Run(LaunchContext? launch, ILogger log, TextWriter stderr)
    {
        if (launch is null)
        {
            log.Error("{Verb} is started by scrun create, not by hand", LaunchContext.AnchorVerb);
            return 1;
        }
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        return ContainerAnchor.RunAsProcess(new ContainerAnchor(launch, environment, log, stderr));
    }
}
