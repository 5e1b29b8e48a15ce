using Scrun.Containers.Anchor;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>The container's exit code from whatever reports come, decided on the containers' side.</summary>
public class ContainerExitTests
{
    private static readonly ExitPatience s_brief = new(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(20));
    private static readonly ExitPatience s_endless = new(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    [Fact]
    public async Task The_steps_own_exit_is_the_containers()
    {
        var step = new Step(StepCapabilities.Native);
        var exit = new ContainerExit(step, s_endless, _ => { });
        step.End(3);
        Assert.Equal(3, await exit.DecideAsync());
    }

    [Fact]
    public async Task A_container_scrun_sent_kill_died_of_it_whatever_its_launcher_says()
    {
        var step = new Step(StepCapabilities.Srun);
        var exit = new ContainerExit(step, s_endless, _ => { });
        exit.KillSent();
        step.End(0);
        Assert.Equal(137, await exit.DecideAsync());
    }

    [Fact]
    public async Task A_kill_that_could_not_be_sent_changes_nothing()
    {
        var step = new Step(StepCapabilities.Native);
        var exit = new ContainerExit(step, s_endless, _ => { });
        exit.KillSent();
        exit.KillFailed();
        step.End(5);
        Assert.Equal(5, await exit.DecideAsync());
    }

    /// <summary>MUNGE down on the node: slurmstepd's exit message never comes, the nodes' report stands.</summary>
    [Fact]
    public async Task The_nodes_report_stands_when_slurmstepd_says_nothing()
    {
        var step = new Step(StepCapabilities.Native);
        var lines = new List<string>();
        var exit = new ContainerExit(step, s_brief, lines.Add);
        exit.NodesReported(7);
        Assert.Equal(7, await exit.DecideAsync());
        Assert.Equal(7, step.Concluded);
        Assert.Contains("that exit stands", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Slurms_word_wins_over_the_nodes_report()
    {
        var step = new Step(StepCapabilities.Native);
        var exit = new ContainerExit(step, s_brief, _ => { });
        step.End(3);
        exit.NodesReported(7);
        Assert.Equal(3, await exit.DecideAsync());
        await Task.Yield();
        Assert.Null(step.Concluded);
    }

    [Fact]
    public async Task A_step_whose_job_ended_and_that_hears_nothing_more_is_given_up()
    {
        var step = new Step(StepCapabilities.Native);
        var exit = new ContainerExit(step, s_brief, _ => { });
        exit.JobEnded("node(s) n1 failed");
        Assert.Equal(1, await exit.DecideAsync());
        Assert.Equal("node(s) n1 failed", step.GivenUp);
    }

    [Fact]
    public async Task Srun_is_asked_nothing_it_does_itself()
    {
        var step = new Step(StepCapabilities.Srun);
        var exit = new ContainerExit(step, new ExitPatience(TimeSpan.Zero, TimeSpan.Zero), _ => { });
        exit.NodesReported(7);
        exit.JobEnded("its job ended");
        step.End(2);
        Assert.Equal(2, await exit.DecideAsync());
        Assert.Null(step.Concluded);
        Assert.Null(step.GivenUp);
    }

    private sealed class Step(StepCapabilities can) : IStep
    {
        private readonly TaskCompletionSource<int> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public StepCapabilities Can => can;

        public Task<int> Completion => _completion.Task;

        public uint? StepNumber => 1;

        public int? Concluded { get; private set; }

        public string? GivenUp { get; private set; }

        public void End(int exitCode) => _completion.TrySetResult(exitCode);

        public void Conclude(int exitCode)
        {
            Concluded = can.EndOnTheNodesWord ? exitCode : throw new NotSupportedException();
            End(exitCode);
        }

        public void GiveUp(string why)
        {
            GivenUp = !can.LearnTheJobsEnd ? why : throw new NotSupportedException();
            End(1);
        }

        public void TerminalResized()
        {
        }

        public void Dispose()
        {
        }
    }
}
