using System.Collections;
using System.Text.Json;
using Scrun.Containers.Anchor;
using Serilog;

namespace Scrun.Verbs;

/// <summary>The hidden <c>__anchor</c> verb: the process create leaves behind, one per container.</summary>
internal static class AnchorVerb
{
    public static int Run(ILogger log, TextWriter stderr)
    {
        var text = Environment.GetEnvironmentVariable(AnchorLaunch.EnvironmentVariable);
        AnchorLaunch? launch = null;
        try
        {
            launch = text is null ? null : JsonSerializer.Deserialize(text, ControlJsonContext.Default.AnchorLaunch);
        }
        catch (JsonException)
        {
        }
        if (launch is null)
        {
            log.Error("{Verb} is started by scrun create, not by hand", AnchorLaunch.Verb);
            return 1;
        }
        Environment.SetEnvironmentVariable(AnchorLaunch.EnvironmentVariable, null);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        var anchor = new ContainerAnchor(launch, environment, log, stderr);
        return anchor.RunAsync().GetAwaiter().GetResult();
    }
}
