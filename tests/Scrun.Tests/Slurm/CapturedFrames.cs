using Scrun.Slurm.Wire;

namespace Scrun.Tests.Slurm;

/// <summary>The frames captured from real Slurm daemons (TestData/fixtures).</summary>
internal static class CapturedFrames
{
    public static readonly string[] Releases = ["2205", "2411", "2505"];

    private static string Root => Path.Combine(AppContext.BaseDirectory, "TestData", "fixtures");

    public static ProtocolVersion VersionOf(string release) => release switch
    {
        "2205" => ProtocolVersion.V22_05,
        "2411" => ProtocolVersion.V24_11,
        "2505" => ProtocolVersion.V25_05,
        _ => throw new ArgumentOutOfRangeException(nameof(release)),
    };

    public static IEnumerable<(string Release, string Name)> All() =>
        Releases.SelectMany(release => Directory.EnumerateFiles(Path.Combine(Root, release), "*.hex")
            .Order(StringComparer.Ordinal)
            .Select(path => (release, Path.GetFileName(path))));

    /// <summary>The whole frame, length prefix included.</summary>
    public static byte[] Frame(string release, string name) =>
        Convert.FromHexString(File.ReadAllText(Path.Combine(Root, release, name)).Trim());

    /// <summary>The frame decoded (without its length prefix).</summary>
    public static SlurmMessage Message(string release, string name) =>
        SlurmFrame.Decode(Frame(release, name).AsSpan(SlurmFrame.LengthPrefixSize));

    /// <summary>
    /// The <paramref name="occurrence"/>-th frame (1-based, in capture order) of a message kind, e.g.
    /// ("request_resource_allocation", 2, ".resp"): the same sequence of commands ran on every release.
    /// </summary>
    public static string Nth(string release, string kind, int occurrence, string direction) =>
        AllOf(release, kind, direction).ElementAt(occurrence - 1);

    public static IEnumerable<string> AllOf(string release, string kind, string direction) =>
        Directory.EnumerateFiles(Path.Combine(Root, release), $"*-{kind}{direction}.hex")
            .Select(path => Path.GetFileName(path))
            .Order(StringComparer.Ordinal);
}
