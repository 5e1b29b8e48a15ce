using Serilog;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The container's state as the anchor keeps it: in memory, and in state.json for whoever comes
/// when the anchor is gone. A transition that must be on disk happens only if it could be
/// written; one that has happened anyway is kept and, if the disk refuses, logged. state.json is
/// written through the container's directory held open (the claim's descriptor), so it is the
/// container's own directory even if its path is renamed or its file system lazily unmounted.
/// </summary>
internal sealed class AnchorState(ContainerId id, Interop.DirectoryHandle directory, ContainerState initial, ILogger log)
{
    private readonly Lock _gate = new();
    private ContainerState _state = initial;

    public ContainerState Current
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>
    /// A transition that must be on disk (created, starting, the job's id). <paramref name="change"/>
    /// runs under the state's lock and may refuse by throwing.
    /// </summary>
    /// <exception cref="ContainerException">Refused, or the state could not be written; nothing changed.</exception>
    public ContainerState Update(Func<ContainerState, ContainerState> change)
    {
        lock (_gate)
        {
            var next = change(_state);
            Write(next);
            return _state = next;
        }
    }

    /// <summary>A transition that has happened whether or not it can be written (the step runs, the container stopped).</summary>
    public ContainerState Record(Func<ContainerState, ContainerState> change)
    {
        lock (_gate)
        {
            _state = change(_state);
            try
            {
                Write(_state);
            }
            catch (ContainerException e)
            {
                log.Warning("{Reason}", e.Message);
            }
            return _state;
        }
    }

    private void Write(ContainerState state) => StateStore.Write(directory, id, state);

    /// <summary>Runs <paramref name="decide"/> on the current state under the lock (a check and its effect as one).</summary>
    public T Under<T>(Func<ContainerState, T> decide)
    {
        lock (_gate)
        {
            return decide(_state);
        }
    }
}
