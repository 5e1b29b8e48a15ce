using Xunit;

namespace Scrun.Tests.Slurm.Steps;

public class CapturedStepsTests
{
    private static readonly string[] s_connections =
    [
        "4027-het_job_alloc_info", "5001-5002-step_create", "6001-launch_tasks",
        "resp-6002-launch_response", "resp-6003-task_exit",
    ];

    [Fact]
    public void Every_release_has_each_connection_in_both_directions()
    {
        foreach (var release in CapturedSteps.Releases)
        {
            foreach (var connection in s_connections)
            {
                Assert.NotEmpty(CapturedSteps.Single(release, connection, "out_frame"));
                Assert.NotEmpty(CapturedSteps.Single(release, connection + ".txt", "in_frame"));
            }
            Assert.NotEmpty(CapturedSteps.Single(release, "io-stream", "out_raw"));
            Assert.NotEmpty(CapturedSteps.Single(release, "io-stream", "in_raw"));
        }
    }

    [Fact]
    public void Lines_with_the_same_tag_keep_their_order_and_comments_are_skipped()
    {
        const string text = "# a comment with in_frame in it\nin_frame 0102\nout_frame ff\n\nin_frame 03\n";

        var lines = CapturedSteps.Parse(text, "in_frame");

        Assert.Equal(["0102", "03"], lines.Select(line => Convert.ToHexString(line)));
        Assert.Empty(CapturedSteps.Parse(text, "in_raw"));
    }
}
