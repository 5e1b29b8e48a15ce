using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

/// <summary>
/// The connections of one real <c>srun --container</c> step (TestData/fixtures/steps): one file per
/// connection, each line a tag (<c>out_frame</c>, <c>in_frame</c>, <c>out_raw</c>, <c>in_raw</c>) and hex.
/// </summary>
internal static class CapturedSteps
{
    public static readonly string[] Releases = ["2205", "2411", "2605"];

    private static string Root => Path.Combine(AppContext.BaseDirectory, "TestData", "fixtures", "steps");

    public static ProtocolVersion VersionOf(string release) => release switch
    {
        "2205" => ProtocolVersion.V22_05,
        "2411" => ProtocolVersion.V24_11,
        "2605" => ProtocolVersion.V26_05,
        _ => throw new ArgumentOutOfRangeException(nameof(release)),
    };

    /// <summary>
    /// The bytes of every line of <paramref name="file"/> ("io-stream", ".txt" optional) tagged
    /// <paramref name="tag"/>, in file order.
    /// </summary>
    public static IReadOnlyList<byte[]> Lines(string release, string file, string tag)
    {
        var name = file.EndsWith(".txt", StringComparison.Ordinal) ? file : file + ".txt";
        return Parse(File.ReadAllText(Path.Combine(Root, release, name)), tag);
    }

    /// <summary>The one line with that tag; fails if there are none or several.</summary>
    public static byte[] Single(string release, string file, string tag) => Assert.Single(Lines(release, file, tag));

    internal static IReadOnlyList<byte[]> Parse(string text, string tag)
    {
        var lines = new List<byte[]>();
        foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 2)
            {
                throw new FormatException($"captured line is not 'tag hex': {line[..Math.Min(line.Length, 40)]}");
            }
            if (fields[0] == tag)
            {
                lines.Add(Convert.FromHexString(fields[1]));
            }
        }
        return lines;
    }
}
