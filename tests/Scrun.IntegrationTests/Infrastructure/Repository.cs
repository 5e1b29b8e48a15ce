namespace Scrun.IntegrationTests.Infrastructure;

public static class Repository
{
    /// <summary>The checkout's root: the directory holding Scrun.sln.</summary>
    public static string Root { get; } = Find();

    public static string TestbedScript => Path.Combine(Root, "tests", "testbed", "testbed.sh");

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Scrun.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"no Scrun.sln above {AppContext.BaseDirectory}");
    }
}
