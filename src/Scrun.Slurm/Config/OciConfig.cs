namespace Scrun.Slurm.Config;

/// <summary>
/// The login-node side of <c>oci.conf</c> (beside slurm.conf): how scrun launches srun and at
/// which levels it logs. The node-side keys (RunTime*, ContainerPath, ...) are accepted; of them
/// RunTimeRun (does it run node-run?) and RunTimeQuery (the runtime and the container's id on the
/// node, for exec, pause and resume) are read.
/// A missing file is fine.
/// </summary>
public sealed record OciConfig
{
    public string? SrunPath { get; init; }

    public IReadOnlyList<string> SrunArgs { get; init; } = [];

    public string? StdIODebug { get; init; }

    public string? FileDebug { get; init; }

    public string? SyslogDebug { get; init; }

    /// <summary>The compute nodes' command for a container (read here only to know whether it is <c>scrun node-run</c>).</summary>
    public string? RunTimeRun { get; init; }

    /// <summary>How the nodes ask the runtime for a container's state: its words before <c>state</c> are the runtime, the one after it the container's id.</summary>
    public string? RunTimeQuery { get; init; }

    /// <summary>
    /// Whether RunTimeRun runs the runtime through <c>scrun node-run</c>: then each node tells the
    /// anchor when the container's process runs and takes its signals.
    /// </summary>
    public bool RunsNodeRun => NodeScrun is not null;

    /// <summary>The scrun executable as the compute nodes name it, when RunTimeRun runs <c>scrun node-run</c>; else null.</summary>
    public string? NodeScrun
    {
        get
        {
            var words = (RunTimeRun ?? "").Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            return words.Zip(words.Skip(1)).FirstOrDefault(pair => Path.GetFileName(pair.First).StartsWith("scrun", StringComparison.Ordinal) && pair.Second == "node-run").First;
        }
    }

    public const string FileName = "oci.conf";

    public static OciConfig LoadBeside(SlurmConfig slurm) => Load(Path.Combine(slurm.Directory, FileName));

    public static OciConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            return new OciConfig();
        }
        var config = new OciConfig();
        var srunArgs = new List<string>();
        var number = 0;
        foreach (var raw in File.ReadLines(path))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var eq = line.IndexOf('=');
            if (eq <= 0)
            {
                throw new SlurmConfigException($"{path}:{number}: expected Key=Value, found \"{line}\"");
            }
            var key = line[..eq].Trim();
            var value = line[(eq + 1)..].Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
            {
                value = value[1..^1];
            }
            switch (key.ToLowerInvariant())
            {
                case "srunpath":
                    config = config with { SrunPath = value };
                    break;
                case "srunargs":
                    srunArgs.Add(value);
                    break;
                case "stdiodebug":
                    config = config with { StdIODebug = value };
                    break;
                case "filedebug":
                    config = config with { FileDebug = value };
                    break;
                case "runtimerun":
                    config = config with { RunTimeRun = value };
                    break;
                case "runtimequery":
                    config = config with { RunTimeQuery = value };
                    break;
                case "syslogdebug":
                    config = config with { SyslogDebug = value };
                    break;
                default:
                    break; // keys for slurmstepd on the compute nodes
            }
        }
        return config with { SrunArgs = srunArgs };
    }
}
