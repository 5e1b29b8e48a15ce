using System.Text.Json;
using Scrun.Containers.Oci;

namespace Scrun.Verbs;

/// <summary><c>scrun features</c>: the OCI runtime features document.</summary>
internal static class FeaturesVerb
{
    public static int Run(TextWriter stdout)
    {
        stdout.Write(JsonSerializer.Serialize(RuntimeFeatures.ForScrun(ScrunVersion.Current), OciJsonContext.Default.RuntimeFeatures));
        stdout.Write('\n');
        return 0;
    }
}
