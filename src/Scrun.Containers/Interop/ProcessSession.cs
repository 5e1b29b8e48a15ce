namespace Scrun.Containers.Interop;

/// <summary>The libc setup the executable's entry points need for a process that must stand apart from its caller.</summary>
public static class ProcessSession
{
    /// <summary>
    /// Leaves the caller's session (a Ctrl-C, a hang-up or a timeout meant for the caller does
    /// not reach this process) and points stdin, stdout and stderr at /dev/null: nothing of the
    /// caller's, its terminal or the pipes it reads to their end, is held open.
    /// </summary>
    public static void Detach()
    {
        LibC.setsid();
        LibC.DetachStdio();
    }
}
