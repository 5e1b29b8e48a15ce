namespace Scrun.IntegrationTests.Infrastructure;

/// <summary>
/// The published native-AOT scrun: $SCRUN_BIN (set by 'dotnet run build.cs -- test'), else published
/// once into artifacts/ by the first test that needs it.
/// </summary>
public static class ScrunBinary
{
    private static readonly Lazy<string> s_path = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Path => s_path.Value;

    public static ProcessResult Run(params string[] arguments) => ProcessRunner.Run(Path, arguments);

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("SCRUN_BIN") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : throw new FileNotFoundException($"SCRUN_BIN={configured} does not exist");
        }
        var output = System.IO.Path.Combine(Repository.Root, "artifacts", "publish", "scrun");
        var publish = ProcessRunner.Run("dotnet",
            ["publish", System.IO.Path.Combine(Repository.Root, "src", "Scrun", "Scrun.csproj"), "-c", "Release", "-nologo", "-o", output],
            timeout: TimeSpan.FromMinutes(10));
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException($"publishing scrun failed:\n{publish}");
        }
        return System.IO.Path.Combine(output, "scrun");
    }
}
