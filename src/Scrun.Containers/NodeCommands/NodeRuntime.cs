using System.Globalization;
using System.Text;
using Scrun.Slurm.Config;

namespace Scrun.Containers.NodeCommands;

/// <summary>Where a container runs: its node, its job's owner, its job, its step (null: not known) and task.</summary>
internal sealed record NodeContainer(string Node, string User, uint UserId, uint Job, uint? Step, uint Task = 0);

/// <summary>
/// The container's runtime on its node, as the nodes' oci.conf names it in RunTimeQuery: the
/// words before <c>state</c> run the runtime (<c>/usr/sbin/runc --root=/run/slurm-oci</c>), the
/// word after it is the container's id there (<c>%n.%u.%j.%s.%t</c>, expanded as slurmstepd
/// expands it). exec, pause and resume run that runtime's verb of the same name, as a task of an
/// overlapping step on the container's node: the commands here are that task's.
/// </summary>
internal sealed record NodeRuntime(string Prefix, string IdPattern)
{
    /// <summary>How many times the node's runtime is asked for a container not running yet (a tenth of a second apart).</summary>
    public int Attempts { get; init; } = 300;

    /// <summary>How many step numbers are tried when the container's step is not known (srun launched it).</summary>
    public const int StepsProbed = 64;

    private const string ProcessEnd = "SCRUN_PROCESS_END";

    /// <exception cref="ContainerException">oci.conf has no RunTimeQuery, or one whose runtime and id cannot be told apart.</exception>
    public static NodeRuntime From(OciConfig oci)
    {
        var query = oci.RunTimeQuery?.Trim();
        if (string.IsNullOrEmpty(query))
        {
            throw new ContainerException("oci.conf has no RunTimeQuery: scrun finds the container on its node through it (the runtime, then \"state\" and the container's id)");
        }
        var words = query.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var state = Array.IndexOf(words, "state");
        if (state < 1 || state + 1 >= words.Length)
        {
            throw new ContainerException($"oci.conf's RunTimeQuery=\"{query}\" does not read \"RUNTIME ... state ID\": scrun cannot tell the runtime and the container's id apart");
        }
        var at = 0;
        for (var i = 0; i < state; i++)
        {
            at = query.IndexOf(words[i], at, StringComparison.Ordinal) + words[i].Length;
        }
        var pattern = Unquote(words[state + 1]);
        foreach (var letter in Letters(pattern))
        {
            if (letter is not ('%' or 'j' or 'n' or 's' or 't' or 'u' or 'U'))
            {
                throw new ContainerException($"oci.conf's RunTimeQuery names the container with %{letter}, which scrun cannot know on the login node (it knows %n %u %U %j %s %t)");
            }
        }
        return new NodeRuntime(query[..at].Trim(), pattern);
    }

    /// <summary>The container's id on its node (its step known).</summary>
    public string ContainerId(NodeContainer where) => Expand(where, step => step.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// <c>RUNTIME exec --process FILE ID</c>, the process JSON on a descriptor of the task's
    /// shell (a here-document: no file is left on the node), so that the runtime applies it
    /// whole (user, cwd, env, capabilities, terminal) and the task is the runtime itself.
    /// </summary>
    public IReadOnlyList<string> ExecCommand(NodeContainer where, string processJson)
    {
        var single = processJson.ReplaceLineEndings("");
        return Shell(where, id => $"exec {Prefix} exec --process /dev/fd/3 {id} 3<<'{ProcessEnd}'\n{single}\n{ProcessEnd}\n");
    }

    public IReadOnlyList<string> PauseCommand(NodeContainer where) => Shell(where, id => $"exec {Prefix} pause {id}\n");

    public IReadOnlyList<string> ResumeCommand(NodeContainer where) => Shell(where, id => $"exec {Prefix} resume {id}\n");

    /// <summary>
    /// The task's shell command: once the runtime says the container is running or paused (a
    /// container whose nodes do not run scrun node-run may still be in the making when start has
    /// returned), the command; a stopped container, or none after <see cref="Attempts"/> looks a
    /// tenth of a second apart, is an error. A container whose step is not known (srun launched it
    /// and did not say) is looked for among the job's first steps.
    /// </summary>
    private IReadOnlyList<string> Shell(NodeContainer where, Func<string, string> command)
    {
        var steps = where.Step is null ? StepsProbed : 1;
        var id = where.Step is null ? $"'{Expand(where, _ => "'\"$s\"'")}'" : Quote(ContainerId(where));
        var script = new StringBuilder()
            .Append("i=0\n")
            .Append("while :; do\n")
            .Append("  s=0\n")
            .Append(CultureInfo.InvariantCulture, $"  while [ \"$s\" -lt {steps} ]; do\n")
            .Append(CultureInfo.InvariantCulture, $"    status=$({Prefix} state {id} 2>/dev/null | sed -n 's/^ *\"status\": *\"\\([a-z]*\\)\".*/\\1/p')\n")
            .Append("    case \"$status\" in\n")
            .Append("    running|paused)\n")
            .Append("      ").Append(command(id))
            .Append("      ;;\n")
            .Append(CultureInfo.InvariantCulture, $"    stopped) [ {steps} -gt 1 ] || {{ echo \"scrun: the container has stopped on $(hostname)\" >&2; exit 255; }};;\n")
            .Append("    esac\n")
            .Append("    s=$((s+1))\n")
            .Append("  done\n")
            .Append("  i=$((i+1))\n")
            .Append(CultureInfo.InvariantCulture, $"  [ \"$i\" -lt {Attempts} ] || break\n")
            .Append("  sleep 0.1\n")
            .Append("done\n")
            .Append("echo \"scrun: no running container of job ").Append(where.Job).Append(" on $(hostname)\" >&2\n")
            .Append("exit 255\n");
        return ["/bin/sh", "-c", script.ToString()];
    }

    /// <summary>The pattern expanded; the step's number as <paramref name="step"/> makes it (a shell fragment, when it is not known).</summary>
    private string Expand(NodeContainer where, Func<uint, string> step)
    {
        var text = new StringBuilder();
        for (var i = 0; i < IdPattern.Length; i++)
        {
            if (IdPattern[i] != '%' || i + 1 == IdPattern.Length)
            {
                text.Append(IdPattern[i]);
                continue;
            }
            text.Append(IdPattern[++i] switch
            {
                '%' => "%",
                'j' => where.Job.ToString(CultureInfo.InvariantCulture),
                'n' => where.Node,
                's' => step(where.Step ?? 0),
                't' => where.Task.ToString(CultureInfo.InvariantCulture),
                'u' => where.User,
                'U' => where.UserId.ToString(CultureInfo.InvariantCulture),
                var other => throw new ContainerException($"oci.conf's RunTimeQuery names the container with %{other}"),
            });
        }
        return text.ToString();
    }

    private static IEnumerable<char> Letters(string pattern)
    {
        for (var i = 0; i + 1 < pattern.Length; i++)
        {
            if (pattern[i] == '%')
            {
                yield return pattern[++i];
            }
        }
    }

    private static string Unquote(string word) =>
        word.Length >= 2 && (word[0] == '\'' || word[0] == '"') && word[^1] == word[0] ? word[1..^1] : word;

    /// <summary>A shell word that is <paramref name="text"/> exactly.</summary>
    public static string Quote(string text) => "'" + text.Replace("'", "'\"'\"'", StringComparison.Ordinal) + "'";
}

/// <summary>The one line a node runtime's failure comes down to: runc's (logrus) <c>msg="..."</c>, else its last line.</summary>
internal static class RuntimeError
{
    public static string Describe(string output, int exitCode)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var last = lines.LastOrDefault(line => line.Contains("level=error", StringComparison.Ordinal)) ?? lines.LastOrDefault();
        if (last is null)
        {
            return $"the node's runtime exited with {exitCode}";
        }
        var message = last;
        var at = last.IndexOf("msg=\"", StringComparison.Ordinal);
        if (at >= 0)
        {
            var end = last.LastIndexOf('"');
            message = end > at + 5 ? last[(at + 5)..end].Replace("\\\"", "\"", StringComparison.Ordinal) : last[(at + 5)..];
        }
        if (message.Contains("cgroups not configured", StringComparison.Ordinal) || message.Contains("cannot toggle freezer", StringComparison.Ordinal))
        {
            message += " (the node cannot freeze this container: a rootless runtime needs cgroup v2 with a delegated cgroup to pause)";
        }
        return message;
    }
}
