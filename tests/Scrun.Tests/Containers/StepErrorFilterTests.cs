using System.Text;
using Scrun.Containers.Anchor;
using Xunit;

namespace Scrun.Tests.Containers;

public sealed class StepErrorFilterTests
{
    [Theory]
    [InlineData("srun: error: n1: task 0: Exited with exit code 3\n")]
    [InlineData("srun: error: n[1-2]: tasks 0-3: Exited with exit code 255\n")]
    [InlineData("srun: error: n1: task 0: Killed\n")]
    [InlineData("srun: error: n1: task 0: Terminated\n")]
    [InlineData("srun: error: n1: task 0: Segmentation fault (core dumped)\n")]
    public void Srun_s_report_of_the_task_s_end_is_dropped(string line)
    {
        Assert.Equal("before\nafter\n", Run("before\n" + line + "after\n"));
    }

    [Theory]
    [InlineData("srun: error: n1: task 0: Out Of Memory\n")] // the exit status does not say it
    [InlineData("srun: Job step aborted: Waiting up to 32 seconds for job step to finish.\n")]
    [InlineData("srun: error: Unable to create step for job 12: Invalid generic resource (gres) specification\n")]
    [InlineData("my srun: error: n1: task 0: Exited with exit code 3\n")]
    [InlineData("srun: error: n1: task 0: Exited with exit code 3 and more\n")]
    public void Every_other_line_passes(string line)
    {
        Assert.Equal(line, Run(line));
    }

    [Fact]
    public void Output_is_never_held_back_and_a_line_continued_across_reads_is_the_containers()
    {
        var filter = new StepErrorFilter();
        var output = new MemoryStream();
        filter.Filter("progress 10%... "u8, output);
        Assert.Equal("progress 10%... ", Encoding.UTF8.GetString(output.ToArray())); // no newline yet: passed at once
        filter.Filter("srun: error: n1: task 0: Exited with exit code 3\n"u8, output); // the middle of that line
        filter.Filter("srun: err"u8, output);
        Assert.Equal("progress 10%... srun: error: n1: task 0: Exited with exit code 3\nsrun: err",
            Encoding.UTF8.GetString(output.ToArray()));
    }

    [Fact]
    public async Task The_relay_copies_to_the_end()
    {
        var text = string.Concat(Enumerable.Range(0, 20000).Select(i => $"line {i}\n")) + "srun: error: n1: task 0: Exited with exit code 1\n";
        var destination = new MemoryStream();
        await StepErrorFilter.RelayAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), destination);
        Assert.Equal(text[..text.IndexOf("srun:", StringComparison.Ordinal)], Encoding.UTF8.GetString(destination.ToArray()));
    }

    private static string Run(string text)
    {
        var output = new MemoryStream();
        new StepErrorFilter().Filter(Encoding.UTF8.GetBytes(text), output);
        return Encoding.UTF8.GetString(output.ToArray());
    }
}
