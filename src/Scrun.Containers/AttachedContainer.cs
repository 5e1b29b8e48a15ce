using System.Diagnostics;

namespace Scrun.Containers;

/// <summary>
/// A container run created, whose anchor is run's child: run starts it and, unless detached,
/// waits for it. The anchor's exit status is the container's exit code (128+N for a signal), and
/// the anchor holds run's stdio as the container's, so the container's output is run's.
/// </summary>
public sealed class AttachedContainer : IDisposable
{
    private readonly ContainerLifecycle _lifecycle;
    private readonly Process _anchor;

    internal AttachedContainer(ContainerLifecycle lifecycle, ContainerId id, Process anchor)
    {
        _lifecycle = lifecycle;
        Id = id;
        _anchor = anchor;
    }

    public ContainerId Id { get; }

    /// <summary>
    /// Starts the container. One that does not start is deleted (forced), as runc's run leaves
    /// nothing of it, and start's error is thrown; if the delete fails too, the error says so.
    /// </summary>
    /// <param name="cancellation">Cancels the wait for start's answer.</param>
    public async Task StartAsync(CancellationToken cancellation = default)
    {
        try
        {
            await _lifecycle.StartAsync(Id, cancellation);
        }
        catch (Exception refused) when (refused is ContainerException or IOException or UnauthorizedAccessException)
        {
            try
            {
                await _lifecycle.DeleteAsync(Id, force: true, CancellationToken.None);
            }
            catch (Exception left) when (left is ContainerException or IOException or UnauthorizedAccessException)
            {
                throw new ContainerException($"{refused.Message}; the container is left behind: {left.Message}", (refused as ContainerException)?.Kind ?? ContainerErrorKind.Failed);
            }
            throw;
        }
    }

    /// <summary>Waits for the anchor to exit, once the container has stopped and its job has ended; returns the container's exit code.</summary>
    /// <param name="cancellation">Stops waiting (the container goes on).</param>
    public async Task<int> WaitForExitAsync(CancellationToken cancellation = default)
    {
        await _anchor.WaitForExitAsync(cancellation);
        return _anchor.ExitCode;
    }

    /// <summary>Lets go of the anchor's process handle; the anchor and its container go on.</summary>
    public void Dispose() => _anchor.Dispose();
}
