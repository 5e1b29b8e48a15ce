using System.Globalization;
using Scrun.Slurm.Interop;

namespace Scrun.Containers.NodeControl;

/// <summary>
/// The line protocol between a container's anchor and <c>scrun node-run</c>, the task that runs
/// the container's runtime on each of its nodes. The node connects to the anchor (the address
/// slurmd put in <c>SLURM_SRUN_COMM_HOST</c>, the port and secret in <see cref="EnvironmentVariable"/>)
/// and says <c>hello</c>, then <c>running</c> once the container's process runs or <c>failed</c> if
/// it never will, which the anchor answers with <c>ok</c>, and <c>exited</c> with the container's
/// exit code once it has ended; the anchor sends <c>signal</c> for each signal the container is
/// sent. The node ends its task only once its first report was answered, so the anchor never
/// hears of the step's end before it knows whether the container ran; <c>exited</c> needs no
/// answer (it stands only if Slurm's own word on the exit is lost). Closing the connection is the
/// anchor's end: the container is killed.
/// </summary>
internal static class NodeControlProtocol
{
    /// <summary>The step's variable naming the anchor's port and the connection's secret: <c>PORT:TOKEN</c>.</summary>
    public const string EnvironmentVariable = "SCRUN_NODE_CONTROL";

    /// <summary>The variable slurmd sets in every task's environment: the address the step was launched from.</summary>
    public const string LaunchHostVariable = "SLURM_SRUN_COMM_HOST";

    /// <summary>The longest line either side sends (a failure's message is cut to fit).</summary>
    public const int MaximumLine = 4096;

    public static string EnvironmentValue(int port, string token) => $"{port}:{token}";

    public static bool TryParseEnvironmentValue(string value, out int port, out string token)
    {
        var colon = value.IndexOf(':');
        token = colon > 0 ? value[(colon + 1)..] : "";
        port = 0;
        return colon > 0 && int.TryParse(value.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out port)
            && port is > 0 and < 65536 && token.Length > 0;
    }

    public static string Hello(string token) => $"hello {token}\n";

    public static string Running(int pid) => $"running {pid.ToString(CultureInfo.InvariantCulture)}\n";

    public static string Failed(int exitCode, string message)
    {
        var line = message.ReplaceLineEndings(" ").Trim();
        var text = $"failed {exitCode.ToString(CultureInfo.InvariantCulture)} {line}";
        return (text.Length > MaximumLine - 1 ? text[..(MaximumLine - 1)] : text) + "\n";
    }

    public static string Exited(int exitCode) => $"exited {exitCode.ToString(CultureInfo.InvariantCulture)}\n";

    public const string Acknowledgement = "ok\n";

    public static string Signal(Signal signal) => $"signal {signal.Number.ToString(CultureInfo.InvariantCulture)}\n";

    /// <summary>One line either side may send, or null for a line that is none of them.</summary>
    public static NodeMessage? Parse(string line)
    {
        var space = line.IndexOf(' ');
        var word = space < 0 ? line : line[..space];
        var rest = space < 0 ? "" : line[(space + 1)..];
        switch (word)
        {
            case "hello" when rest.Length > 0:
                return new NodeMessage.Hello(rest);
            case "running" when TryNumber(rest, out var pid) && pid > 0:
                return new NodeMessage.Running(pid);
            case "exited" when TryNumber(rest, out var exitCode) && exitCode < 256:
                return new NodeMessage.Exited(exitCode);
            case "ok" when rest.Length == 0:
                return new NodeMessage.Acknowledged();
            case "signal" when TryNumber(rest, out var number) && Slurm.Interop.Signal.FromNumber(number) is { } signal:
                return new NodeMessage.Signal(signal);
            case "failed":
                var gap = rest.IndexOf(' ');
                var code = gap < 0 ? rest : rest[..gap];
                return TryNumber(code, out var failure) ? new NodeMessage.Failed(failure, gap < 0 ? "" : rest[(gap + 1)..]) : null;
            default:
                return null;
        }
    }

    private static bool TryNumber(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}

/// <summary>A line of <see cref="NodeControlProtocol"/>.</summary>
internal abstract record NodeMessage
{
    private NodeMessage()
    {
    }

    public sealed record Hello(string Token) : NodeMessage;

    /// <summary>The container's process runs on the node (its pid there).</summary>
    public sealed record Running(int Pid) : NodeMessage;

    /// <summary>The runtime ended before the container's process ran: its exit code and its error.</summary>
    public sealed record Failed(int ExitCode, string Message) : NodeMessage;

    /// <summary>The container's process has ended on the node: the runtime's exit code (128+N for a signal).</summary>
    public sealed record Exited(int ExitCode) : NodeMessage;

    public sealed record Signal(Slurm.Interop.Signal Value) : NodeMessage;

    /// <summary>The anchor has the node's report.</summary>
    public sealed record Acknowledged : NodeMessage;
}
