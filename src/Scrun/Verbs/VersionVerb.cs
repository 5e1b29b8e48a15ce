using Scrun.Containers.Oci;

namespace Scrun.Verbs;

/// <summary><c>scrun version</c> / <c>--version</c>: the first line is what runc's callers parse.</summary>
internal static class VersionVerb
{
    public static int Run(TextWriter stdout)
    {
        stdout.Write($"scrun version {ScrunVersion.Current}\nspec: {RuntimeFeatures.SpecVersion}\n");
        return 0;
    }
}
