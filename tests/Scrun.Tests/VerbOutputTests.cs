using System.Text.Json;
using Scrun.Verbs;
using Xunit;

namespace Scrun.Tests;

public class VerbOutputTests
{
    [Fact]
    public void Version_prints_two_lines_runc_style()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, VersionVerb.Run(stdout));
        Assert.Matches(@"^scrun version \d+\.\d+\.\d+\nspec: 1\.0\.2\n$", stdout.ToString());
    }

    [Fact]
    public void Features_is_an_oci_features_document()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, FeaturesVerb.Run(stdout));
        using var json = JsonDocument.Parse(stdout.ToString());
        Assert.Equal("1.0.0", json.RootElement.GetProperty("ociVersionMin").GetString());
        Assert.Equal("1.0.2", json.RootElement.GetProperty("ociVersionMax").GetString());
        Assert.Equal(ScrunVersion.Current, json.RootElement.GetProperty("annotations").GetProperty("org.slurm.scrun.version").GetString());
    }

    /// <summary>Without the context create passes, the guard has no log to write to: it says why on stderr, before it lets stderr go.</summary>
    [Fact]
    public void A_guard_started_by_hand_refuses_to_run_and_says_why()
    {
        var stderr = new StringWriter();
        Assert.Equal(1, GuardVerb.Run(launch: null, Serilog.Core.Logger.None, stderr));
        Assert.Equal("scrun: error: __guard is started by scrun create, not by hand\n", stderr.ToString());
    }
}
