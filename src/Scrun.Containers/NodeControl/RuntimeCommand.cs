namespace Scrun.Containers.NodeControl;

/// <summary>
/// The OCI runtime's command line oci.conf's RunTimeRun gives <c>scrun node-run</c>
/// (<c>runc --root=R run --bundle %b ID</c>, or crun's): where its <c>run</c> verb is, its
/// container id (the last word), its bundle, and its pid file.
/// </summary>
internal sealed record RuntimeCommand
{
    private RuntimeCommand(IReadOnlyList<string> arguments, int runIndex)
    {
        Arguments = arguments;
        RunIndex = runIndex;
    }

    /// <summary>The whole command: the runtime, its global flags, <c>run</c>, its flags, the id.</summary>
    public IReadOnlyList<string> Arguments { get; }

    private int RunIndex { get; }

    public string Runtime => Arguments[0];

    public string Id => Arguments[^1];

    public string? Bundle => RunValue("--bundle", "-b");

    public string? PidFile => RunValue("--pid-file");

    /// <summary>Whether the runtime's global flags already name a log file.</summary>
    public bool HasLog => Arguments.Take(RunIndex).Any(a => a == "--log" || a.StartsWith("--log=", StringComparison.Ordinal));

    /// <summary>Whether the runtime is runc (whose --log and --log-format json scrun reads).</summary>
    public bool IsRunc => Path.GetFileName(Runtime) == "runc";

    /// <summary>The command with a run verb and a container id; null for any other command (run as it is).</summary>
    public static RuntimeCommand? Parse(IReadOnlyList<string> arguments)
    {
        var run = -1;
        for (var i = 1; i < arguments.Count; i++)
        {
            if (arguments[i] == "run")
            {
                run = i;
                break;
            }
        }
        return run > 0 && arguments.Count > run + 1 && !arguments[^1].StartsWith('-') ? new RuntimeCommand(arguments, run) : null;
    }

    /// <summary>The command with <c>--pid-file</c> given to its run verb.</summary>
    public RuntimeCommand WithPidFile(string path) =>
        new([.. Arguments.Take(RunIndex + 1), "--pid-file", path, .. Arguments.Skip(RunIndex + 1)], RunIndex);

    /// <summary>The command with a JSON log file among its global flags.</summary>
    public RuntimeCommand WithJsonLog(string path) =>
        new([Arguments[0], "--log", path, "--log-format", "json", .. Arguments.Skip(1)], RunIndex + 4);

    private string? RunValue(params string[] names)
    {
        for (var i = RunIndex + 1; i < Arguments.Count - 1; i++)
        {
            foreach (var name in names)
            {
                if (Arguments[i] == name && i + 1 < Arguments.Count - 1)
                {
                    return Arguments[i + 1];
                }
                if (name.StartsWith("--", StringComparison.Ordinal) && Arguments[i].StartsWith(name + "=", StringComparison.Ordinal))
                {
                    return Arguments[i][(name.Length + 1)..];
                }
            }
        }
        return null;
    }
}
