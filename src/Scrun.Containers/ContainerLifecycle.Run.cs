namespace Scrun.Containers;

public sealed partial class ContainerLifecycle
{
    /// <summary>
    /// run's create: <see cref="CreateAsync"/>, keeping the container's anchor as this process's
    /// child, so that run can start the container and wait for it. A container with a terminal
    /// needs <c>--console-socket</c>: run has no terminal of its own to relay.
    /// </summary>
    /// <param name="request">What run was asked for (create's flags).</param>
    /// <param name="environment">The runtime's environment, as for <see cref="CreateAsync"/>.</param>
    /// <param name="cancellation">Cancels the wait for the anchor's report.</param>
    public async Task<AttachedContainer> CreateAttachedAsync(LaunchContext request, IReadOnlyDictionary<string, string> environment, CancellationToken cancellation = default)
    {
        var anchor = await CreateWithAnchorAsync(request, environment, forRun: true, cancellation);
        return new AttachedContainer(this, ContainerId.Parse(request.Id), anchor);
    }
}
