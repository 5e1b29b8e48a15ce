using System.Text;
using System.Text.RegularExpressions;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The step's stderr on its way to the container's: srun writes its own report of how a task
/// ended (<c>srun: error: n1: task 0: Exited with exit code 3</c>) into the same stream as the
/// task's stderr, and <c>--quiet</c> does not remove it. The container's exit status already
/// says it, so that line, and only that line, is dropped; everything else passes at once, byte
/// for byte. A line is only judged when a read holds it whole (srun writes each line with one
/// write(2)), so nothing is ever held back waiting for more.
/// </summary>
internal sealed partial class StepErrorFilter
{
    private static readonly byte[] s_prefix = "srun: "u8.ToArray();
    private bool _atLineStart = true;

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> until end of file.</summary>
    public static async Task RelayAsync(Stream source, Stream destination)
    {
        var filter = new StepErrorFilter();
        var buffer = new byte[64 * 1024];
        var output = new MemoryStream();
        int read;
        while ((read = await source.ReadAsync(buffer)) > 0)
        {
            output.SetLength(0);
            filter.Filter(buffer.AsSpan(0, read), output);
            destination.Write(output.GetBuffer(), 0, (int)output.Length);
        }
    }

    /// <summary>Appends to <paramref name="output"/> what of <paramref name="chunk"/> the container's stderr gets.</summary>
    public void Filter(ReadOnlySpan<byte> chunk, Stream output)
    {
        while (chunk.Length > 0)
        {
            var end = chunk.IndexOf((byte)'\n');
            var line = end < 0 ? chunk : chunk[..(end + 1)];
            if (!(_atLineStart && end >= 0 && IsTaskEnd(line[..^1])))
            {
                output.Write(line);
            }
            _atLineStart = end >= 0;
            chunk = chunk[line.Length..];
        }
    }

    private static bool IsTaskEnd(ReadOnlySpan<byte> line) =>
        line.StartsWith(s_prefix) && line.Length < 512 && TaskEnd().IsMatch(Encoding.UTF8.GetString(line));

    // launch_slurm.c's _task_finish: "<hosts>: task(s) <ids>: Exited with exit code N" or the
    // signal's strsignal() text. "Out Of Memory" is kept: the exit status does not say it.
    [GeneratedRegex(@"^srun: error: \S+: tasks? [0-9,\-\[\]]+: (Exited with exit code \d+|Killed|Terminated|Hangup|Interrupt|Quit|Aborted|Segmentation fault|Bus error|Floating point exception|Illegal instruction|Broken pipe|Alarm clock|User defined signal [12]|Trace/breakpoint trap)( \(core dumped\))?$")]
    private static partial Regex TaskEnd();
}
