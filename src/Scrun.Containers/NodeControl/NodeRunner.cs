using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Scrun.Containers.Interop;
using Scrun.Slurm.Interop;

namespace Scrun.Containers.NodeControl;

/// <summary>
/// <c>scrun node-run RUNTIME...</c>, oci.conf's RunTimeRun on a compute node: the step's task,
/// between slurmstepd and the OCI runtime. It tells the container's anchor when the container's
/// process runs (the runtime's pid file appears) or why it never will, and delivers the anchor's
/// signals to that process alone, so that neither the runtime, nor the shell slurmstepd started,
/// nor a process the container started is signalled by Slurm on the container's behalf. Its exit
/// status is the runtime's (the container's). Without an anchor to talk to (the variable
/// <see cref="NodeControlProtocol.EnvironmentVariable"/> unset) it becomes the runtime.
/// </summary>
/// <param name="command">The runtime and its arguments.</param>
/// <param name="stderr">The task's stderr, the container's: only scrun's own failures are written there.</param>
/// <param name="whileRuntimeRuns">
/// Taken just before the runtime starts, disposed once it has ended and been reported: what makes
/// this process outlive the signals Slurm sends every process of the step (the verb's signal
/// registrations). Not before: until the runtime runs, a signal ends the task as it would end the runtime.
/// </param>
public sealed class NodeRunner(IReadOnlyList<string> command, TextWriter stderr, Func<IDisposable>? whileRuntimeRuns = null)
{
    private static readonly TimeSpan s_connectPatience = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_longestPoll = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan s_acknowledgementPatience = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim _acknowledgements = new(0);
    private volatile int _pidfd = -1;
    private volatile bool _anchorGone;

    public async Task<int> RunAsync()
    {
        if (command.Count == 0)
        {
            return Fail(1, "no runtime command given (scrun node-run RUNTIME ARGUMENTS...)");
        }
        var runtime = RuntimeCommand.Parse(command);
        // slurmstepd runs RunTimeRun with slurmd's environment: the step's is in the bundle's config.json.
        var stepEnvironment = runtime?.Bundle is { } bundle ? TakeControlVariable(bundle) : new Dictionary<string, string>();
        if (stepEnvironment.GetValueOrDefault(NodeControlProtocol.EnvironmentVariable) is not { } control || runtime is null)
        {
            return Become(command);
        }
        if (!NodeControlProtocol.TryParseEnvironmentValue(control, out var port, out var token))
        {
            return Fail(1, $"{NodeControlProtocol.EnvironmentVariable} is not PORT:TOKEN");
        }
        if (stepEnvironment.GetValueOrDefault(NodeControlProtocol.LaunchHostVariable) is not { Length: > 0 } host)
        {
            return Fail(1, $"{NodeControlProtocol.LaunchHostVariable} is not set: is this a Slurm step's task?");
        }

        LineChannel anchor;
        try
        {
            anchor = await ConnectAsync(host, port, token);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return Fail(1, $"cannot reach the container's anchor at {host} port {port}: {e.Message}");
        }
        await using (anchor)
        {
            var work = Directory.CreateTempSubdirectory("scrun-node-run.");
            try
            {
                return await RunRuntimeAsync(runtime, work.FullName, anchor);
            }
            finally
            {
                work.Delete(recursive: true);
            }
        }
    }

    private async Task<int> RunRuntimeAsync(RuntimeCommand runtime, string work, LineChannel anchor)
    {
        var pidFile = runtime.PidFile;
        if (pidFile is null)
        {
            pidFile = Path.Combine(work, "container.pid");
            runtime = runtime.WithPidFile(pidFile);
        }
        string? log = null;
        if (runtime.IsRunc && !runtime.HasLog)
        {
            log = Path.Combine(work, "runtime.log");
            runtime = runtime.WithJsonLog(log);
        }

        using var outliving = whileRuntimeRuns?.Invoke();
        using var stopReading = new CancellationTokenSource();
        var reading = ReadAnchorAsync(anchor, stopReading.Token);
        try
        {
            using var process = Start(runtime);
            int exitCode;
            if (process is null)
            {
                exitCode = 127;
                await ReportAsync(anchor, NodeControlProtocol.Failed(exitCode, $"cannot run {runtime.Runtime}"));
            }
            else if (await WaitForPidFileAsync(pidFile, process.WaitForExitAsync()) is not { } pid)
            {
                await process.WaitForExitAsync();
                exitCode = process.ExitCode;
                await ReportAsync(anchor, NodeControlProtocol.Failed(exitCode,
                    RuntimeError(log) ?? $"{runtime.Runtime} exited with status {exitCode} before the container's process ran"));
            }
            else
            {
                _pidfd = LibC.PidfdOpen(pid);
                if (_anchorGone)
                {
                    Send(Signal.Kill);
                }
                await ReportAsync(anchor, NodeControlProtocol.Running(pid));
                await process.WaitForExitAsync();
                exitCode = process.ExitCode;
                // Slurm's word on the task's exit needs MUNGE on this node; this one does not. It
                // matters only if Slurm's never comes, so the task need not wait for an answer.
                await ReportAsync(anchor, NodeControlProtocol.Exited(exitCode), answered: false);
            }
            return exitCode;
        }
        finally
        {
            await stopReading.CancelAsync();
            await reading;
            if (_pidfd >= 0)
            {
                LibC.close(_pidfd);
            }
        }
    }

    /// <summary>
    /// The anchor's signals, for the container's process, and its answer to the report; the
    /// anchor's end (its connection closed) is the container's: like the process in runc's pid
    /// file, it dies with its anchor.
    /// </summary>
    private async Task ReadAnchorAsync(LineChannel anchor, CancellationToken stop)
    {
        try
        {
            while (await anchor.ReadLineAsync(stop) is { } line)
            {
                switch (NodeControlProtocol.Parse(line))
                {
                    case NodeMessage.Signal signal:
                        Send(signal.Value);
                        break;
                    case NodeMessage.Acknowledged:
                        _acknowledgements.Release();
                        break;
                }
            }
            _anchorGone = true;
            _acknowledgements.Release(int.MaxValue / 2); // no answer will come: no report waits for one
            Send(Signal.Kill);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
        }
    }

    private void Send(Signal signal)
    {
        if (_pidfd >= 0)
        {
            LibC.PidfdSendSignal(_pidfd, signal);
        }
    }

    private static async Task<int?> WaitForPidFileAsync(string pidFile, Task exited)
    {
        var pause = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            if (ReadPid(pidFile) is { } pid)
            {
                return pid;
            }
            if (exited.IsCompleted)
            {
                return ReadPid(pidFile); // written just before the runtime ended
            }
            await Task.WhenAny(exited, Task.Delay(pause));
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, s_longestPoll.Ticks));
        }
    }

    private static int? ReadPid(string pidFile)
    {
        try
        {
            // runc and crun write the pid file whole under another name and rename it.
            return int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0 ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The last error runc logged (its JSON log: one object per line, the message in "msg").</summary>
    private static string? RuntimeError(string? log)
    {
        if (log is null || !File.Exists(log))
        {
            return null;
        }
        string? error = null;
        foreach (var line in File.ReadLines(log))
        {
            try
            {
                if (JsonNode.Parse(line) is JsonObject entry && entry["level"]?.GetValue<string>() is "error" or "fatal" && entry["msg"]?.GetValue<string>() is { } message)
                {
                    error = message;
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
            }
        }
        return error;
    }

    private Process? Start(RuntimeCommand runtime)
    {
        var start = new ProcessStartInfo(runtime.Runtime) { UseShellExecute = false };
        foreach (var argument in runtime.Arguments.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }
        try
        {
            return Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            stderr.Write($"scrun node-run: error: cannot run {runtime.Runtime}: {e.Message}\n");
            return null;
        }
    }

    private static async Task<LineChannel> ConnectAsync(string host, int port, string token)
    {
        using var patience = new CancellationTokenSource(s_connectPatience);
        return await LineChannel.ConnectAsync(host, port, token, patience.Token);
    }

    /// <summary>Sends a report and waits for the anchor's answer: the task (and so the step) must not end before the anchor has it.</summary>
    private async Task ReportAsync(LineChannel anchor, string line, bool answered = true)
    {
        try
        {
            await anchor.WriteAsync(line, CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return; // the anchor is gone: the container's fate is its job's now
        }
        if (answered)
        {
            await _acknowledgements.WaitAsync(s_acknowledgementPatience);
        }
    }

    /// <summary>
    /// The step's environment as slurmstepd put it in the config.json it made (null values
    /// dropped), with the control variable taken out: it is the step's secret for the anchor,
    /// not the container's. The job user owns that bundle, so the file is replaced.
    /// </summary>
    private static Dictionary<string, string> TakeControlVariable(string bundle)
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        var path = Path.Combine(bundle, "config.json");
        try
        {
            if (JsonNode.Parse(File.ReadAllText(path)) is not JsonObject config || config["process"]?["env"] is not JsonArray env)
            {
                return found;
            }
            JsonNode? control = null;
            foreach (var entry in env)
            {
                if (entry is JsonValue value && value.TryGetValue<string>(out var text) && text.IndexOf('=') is > 0 and var eq)
                {
                    found[text[..eq]] = text[(eq + 1)..];
                    if (text[..eq] == NodeControlProtocol.EnvironmentVariable)
                    {
                        control = entry;
                    }
                }
            }
            if (control is not null)
            {
                env.Remove(control);
                var replacement = path + ".scrun-node-run";
                File.WriteAllText(replacement, config.ToJsonString());
                File.Move(replacement, path, overwrite: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException)
        {
            // A bundle scrun cannot read or rewrite: the runtime gets it as it is.
        }
        return found;
    }

    /// <summary>Runs the command in this process's place (found in PATH like a shell would), as the runtime alone would run.</summary>
    private int Become(IReadOnlyList<string> runtime)
    {
        LibC.Exec(runtime);
        return Fail(127, $"cannot run {runtime[0]}: {LibC.LastError()}");
    }

    private int Fail(int exitCode, string message)
    {
        stderr.Write($"scrun node-run: error: {message}\n");
        return exitCode;
    }
}
