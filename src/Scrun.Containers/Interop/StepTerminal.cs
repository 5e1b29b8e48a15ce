using Scrun.Slurm.Steps;

namespace Scrun.Containers.Interop;

/// <summary>
/// The step's side of the container's terminal for a launcher in this process: what is typed
/// comes in raw (the line discipline that counts is the container's, on the node), the step's
/// output goes out, and the size is the caller's.
/// </summary>
internal sealed class StepTerminal : IDisposable
{
    private int _descriptor;

    private StepTerminal(int descriptor)
    {
        _descriptor = descriptor;
        Input = new DescriptorStream(descriptor);
        Output = new DescriptorStream(descriptor);
    }

    public Stream Input { get; }

    public Stream Output { get; }

    public static StepTerminal Open(string path)
    {
        var descriptor = LibC.open(path, LibC.ORdwr | LibC.ONoctty | LibC.OCloexec);
        if (descriptor < 0)
        {
            throw new ContainerException($"cannot open the step's terminal {path}: {LibC.LastError()}");
        }
        TerminalRelay.MakeRaw(descriptor);
        return new StepTerminal(descriptor);
    }

    /// <summary>The terminal's size; null when it has none (a caller's pty that was never sized).</summary>
    public WindowSize? Size() => TerminalRelay.WindowSizeOf(_descriptor) is { } size ? new WindowSize(size.Columns, size.Rows) : null;

    public void Dispose()
    {
        var descriptor = Interlocked.Exchange(ref _descriptor, -1);
        if (descriptor >= 0)
        {
            LibC.close(descriptor);
        }
    }
}
