using Scrun.Containers;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>Every status against every verb: what is allowed, and the refusal in runc's words.</summary>
public class ContainerTransitionsTests
{
    [Theory]
    [InlineData(ContainerStatus.Creating, null, "cannot start container \"c\": it is still being created")]
    [InlineData(ContainerStatus.Created, true, null)]
    [InlineData(ContainerStatus.Starting, null, "cannot start container \"c\": it is already running")]
    [InlineData(ContainerStatus.Running, null, "cannot start container \"c\": it is already running")]
    [InlineData(ContainerStatus.Stopping, null, "cannot start container \"c\": it has stopped")]
    [InlineData(ContainerStatus.Stopped, null, "cannot start container \"c\": it has stopped")]
    public void Only_a_created_container_starts(ContainerStatus status, bool? allowed, string? refusal)
    {
        Assert.Equal(allowed ?? false, status.CanStart());
        if (refusal is null)
        {
            status.EnsureCanStart("c");
        }
        else
        {
            Assert.Equal(refusal, Assert.Throws<ContainerException>(() => status.EnsureCanStart("c")).Message);
        }
    }

    [Theory]
    [InlineData(ContainerStatus.Creating, true)]
    [InlineData(ContainerStatus.Created, true)]
    [InlineData(ContainerStatus.Starting, true)]
    [InlineData(ContainerStatus.Running, true)]
    [InlineData(ContainerStatus.Stopping, false)]
    [InlineData(ContainerStatus.Stopped, false)]
    public void A_container_is_signalled_until_it_stops(ContainerStatus status, bool allowed)
    {
        Assert.Equal(allowed, status.CanKill());
        if (!allowed)
        {
            Assert.Equal("cannot kill container \"c\": container not running", Assert.Throws<ContainerException>(() => status.EnsureCanKill("c")).Message);
        }
    }

    [Theory]
    [InlineData(ContainerStatus.Creating, false, "creating")]
    [InlineData(ContainerStatus.Created, true, null)]
    [InlineData(ContainerStatus.Starting, false, "running")]
    [InlineData(ContainerStatus.Running, false, "running")]
    [InlineData(ContainerStatus.Stopping, true, null)] // shown as stopped: a caller that saw "stopped" must be able to delete
    [InlineData(ContainerStatus.Stopped, true, null)]
    public void Delete_takes_created_and_stopped_containers_and_anything_by_force(ContainerStatus status, bool allowed, string? shown)
    {
        Assert.Equal(allowed, status.CanDelete(force: false));
        Assert.True(status.CanDelete(force: true));
        if (shown is not null)
        {
            Assert.Equal($"cannot delete container \"c\" that is not stopped: {shown}", Assert.Throws<ContainerException>(() => status.EnsureCanDelete("c", force: false)).Message);
        }
    }
}
