using Scrun.Containers;
using Scrun.Containers.Anchor;
using Scrun.Slurm.Interop;
using Xunit;
using static Scrun.Containers.Anchor.AnchorEvent;

namespace Scrun.Tests.Containers;

/// <summary>
/// The anchor's table, read as a table: every event in every status (and while starting, before
/// and after the step's launch). A cell is "=" for the same status or the next status, then the effect.
/// </summary>
public class AnchorTransitionsTests
{
    private static readonly string[] s_columns = ["Creating", "Created", "Starting", "Starting+step", "Running", "Paused", "Stopping", "Stopped"];

    private static readonly (string Name, AnchorEvent Event, string Row)[] s_table =
    [
        ("state", new Query(), "=None | =None | =None | =None | =None | =None | =None | =None"),
        ("start", new Start(), "=Refuse | Starting Launch | =Refuse | =Refuse | =Refuse | =Refuse | =Refuse | =Refuse"),
        ("kill TERM", new Kill(Signal.Terminate), "Stopping AbortCreation | Stopping WindDown | =Defer | =Defer | =SignalContainer | =ThawFirst | =Refuse | =Refuse"),
        ("kill CHLD", new Kill(Signal.Child), "=None | =None | =Defer | =Defer | =SignalContainer | =ThawFirst | =Refuse | =Refuse"),
        ("kill KILL", new Kill(Signal.Kill), "Stopping AbortCreation | Stopping WindDown | =Defer | =KillStep | =SignalContainer | =ThawFirst | =Refuse | =Refuse"),
        ("delete", new Delete(Force: false), "=Refuse | Stopping WindDown | =Refuse | =Refuse | =Refuse | =Refuse | =None | =CancelLeftJob"),
        ("delete --force", new Delete(Force: true), "Stopping AbortCreation | Stopping WindDown | =Defer | =KillStep | =KillStep | =ThawFirst | =None | =CancelLeftJob"),
        ("created", new Created(), "Created Report | =None | =None | =None | =None | =None | =UndoCreation | =None"),
        ("creation failed", new CreationFailed("x"), "Stopping UndoCreation | Stopping UndoCreation | =None | =None | =None | =None | =UndoCreation | =None"),
        ("create gone", new CreatorGone(), "Stopping AbortCreation | =None | =None | =None | =None | =None | =None | =None"),
        ("launched", new Launched(null!), "=None | =None | =Attach | =Attach | =None | =None | =None | =None"),
        ("launch failed", new LaunchFailed("x"), "=None | =None | Stopping WindDown | Stopping WindDown | =None | =None | =None | =None"),
        ("running", new AnchorEvent.Running(), "=None | =None | Running None | Running None | =None | =None | =None | =None"),
        ("start failed", new StartFailed("x"), "=None | =None | =None | Stopping KillStep | =None | =None | =None | =None"),
        ("step exited", new StepExited(3), "=None | =None | Stopping WindDown | Stopping WindDown | Stopping WindDown | Stopping WindDown | =WindDown | =None"),
        ("job ended", new JobEnded("x"), "Stopping AbortCreation | Stopping WindDown | =Defer | =AbandonStep | =AbandonStep | =AbandonStep | =None | =None"),
        ("nodes failed", new NodesFailed("n1"), "=None | =None | =Defer | =AbandonStep | =AbandonStep | =AbandonStep | =None | =None"),
        ("time limit", new TimeLimitReached(), "=None | =None | =None | =None | =None | =None | =None | =None"),
        ("released", new Released(0, null), "=None | =None | =None | =None | =None | =None | Stopped Finish | =None"),
        ("exec", new Exec(null!), "=Refuse | =Refuse | =Defer | =Defer | =StartExec | =Refuse | =Refuse | =Refuse"),
        ("pause", new Pause(), "=Refuse | =Refuse | =Refuse | =Refuse | =Freeze | =Refuse | =Refuse | =Refuse"),
        ("resume", new Resume(), "=Refuse | =Refuse | =Refuse | =Refuse | =Refuse | =Thaw | =Refuse | =Refuse"),
        ("frozen", new Frozen(), "=None | =None | =None | =None | Paused None | =None | =None | =None"),
        ("thawed", new Thawed(), "=None | =None | =None | =None | =None | Running None | =None | =None"),
        ("thaw failed", new ThawFailed("x"), "=None | =None | =None | =None | =None | =RefuseWaiting | =None | =None"),
        ("ended", new Ended(), "=None | =None | =None | =None | =None | =None | =None | =Exit"),
    ];

    public static TheoryData<string> Events() => new(s_table.Select(row => row.Name));

    [Theory]
    [MemberData(nameof(Events))]
    public void Every_status_answers_the_event_as_the_table_says(string name)
    {
        var (_, anchorEvent, row) = s_table.Single(r => r.Name == name);
        var cells = row.Split('|', StringSplitOptions.TrimEntries);
        Assert.Equal(s_columns.Length, cells.Length);
        for (var column = 0; column < s_columns.Length; column++)
        {
            var status = Enum.Parse<ContainerStatus>(s_columns[column].Split('+')[0]);
            var transition = AnchorTransitions.Decide(status, anchorEvent, stepLaunched: s_columns[column].EndsWith("+step", StringComparison.Ordinal));
            var actual = (transition.Next == status ? "=" : transition.Next + " ") + transition.Effect;
            Assert.True(cells[column] == actual, $"{name} while {s_columns[column]}: expected {cells[column]}, got {actual}");
        }
    }

    [Fact]
    public void The_table_covers_every_status()
    {
        Assert.Equal(Enum.GetNames<ContainerStatus>(), s_columns.Where(c => !c.Contains('+', StringComparison.Ordinal)));
    }

    [Fact]
    public void Only_created_and_starting_must_be_on_disk_before_they_count()
    {
        Assert.True(new Transition(ContainerStatus.Created, AnchorEffect.Report).MustBeRecorded(ContainerStatus.Creating));
        Assert.True(new Transition(ContainerStatus.Starting, AnchorEffect.Launch).MustBeRecorded(ContainerStatus.Created));
        Assert.False(new Transition(ContainerStatus.Running, AnchorEffect.None).MustBeRecorded(ContainerStatus.Starting));
        Assert.False(new Transition(ContainerStatus.Stopped, AnchorEffect.Finish).MustBeRecorded(ContainerStatus.Stopping));
    }

    [Theory]
    [InlineData(ContainerStatus.Creating, "cannot start container \"c\": it is still being created")]
    [InlineData(ContainerStatus.Starting, "cannot start container \"c\": it is already running")]
    [InlineData(ContainerStatus.Running, "cannot start container \"c\": it is already running")]
    [InlineData(ContainerStatus.Stopping, "cannot start container \"c\": it has stopped")]
    [InlineData(ContainerStatus.Stopped, "cannot start container \"c\": it has stopped")]
    public void A_refused_start_says_why_in_runcs_words(ContainerStatus status, string refusal)
    {
        var e = status.StartRefusal("c");
        Assert.Equal(refusal, e.Message);
        Assert.Equal(ContainerErrorKind.WrongStatus, e.Kind);
    }

    [Theory]
    [InlineData(ContainerStatus.Creating, "creating")]
    [InlineData(ContainerStatus.Starting, "running")]
    [InlineData(ContainerStatus.Running, "running")]
    public void A_refused_delete_shows_the_oci_status(ContainerStatus status, string shown)
    {
        Assert.Equal($"cannot delete container \"c\" that is not stopped: {shown}", status.DeleteRefusal("c").Message);
        Assert.Equal("cannot kill container \"c\": container not running", status.KillRefusal("c").Message);
    }
}
