using System.Reflection;

namespace Scrun.Verbs;

internal static class ScrunVersion
{
    /// <summary>The product version without the source-revision suffix ("0.1.0", not "0.1.0+abc123").</summary>
    public static string Current { get; } = Read();

    private static string Read()
    {
        var informational = typeof(ScrunVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+');
        return plus < 0 ? informational : informational[..plus];
    }
}
