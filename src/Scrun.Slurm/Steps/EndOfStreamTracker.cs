namespace Scrun.Slurm.Steps;

/// <summary>
/// Counts the empty stdout and stderr frames of one I/O connection against the <c>stdout_objs</c> and
/// <c>stderr_objs</c> its <c>io_init_msg</c> announced; srun closes the connection once both reach
/// zero (<c>_server_read</c>). With <c>--pty</c> stderr is merged into the pty and announced as 0.
/// </summary>
public sealed class EndOfStreamTracker(uint stdoutObjects, uint stderrObjects)
{
    public uint StdoutObjects { get; } = stdoutObjects;

    public uint StderrObjects { get; } = stderrObjects;

    public uint StdoutRemaining { get; private set; } = stdoutObjects;

    public uint StderrRemaining { get; private set; } = stderrObjects;

    public bool IsFinished => StdoutRemaining == 0 && StderrRemaining == 0;

    public static EndOfStreamTracker For(IoInitMessage init) => new(init.StdoutObjects, init.StderrObjects);

    /// <summary>Counts the frame if it ends a stdout or stderr stream; true once every announced stream has ended.</summary>
    public bool Observe(IoHeader header)
    {
        if (header.IsEndOfStream)
        {
            switch (header.Type)
            {
                case IoStreamType.Stdout:
                    StdoutRemaining = CountDown(StdoutRemaining, StdoutObjects, "stdout");
                    break;
                case IoStreamType.Stderr:
                    StderrRemaining = CountDown(StderrRemaining, StderrObjects, "stderr");
                    break;
            }
        }
        return IsFinished;
    }

    private static uint CountDown(uint remaining, uint announced, string stream) =>
        remaining > 0
            ? remaining - 1
            : throw new SlurmProtocolException($"more {stream} EOFs than the {announced} {stream} streams announced");
}
