using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Scrun.Containers.Control;
using Scrun.Containers.Interop;

namespace Scrun.Containers;

/// <summary>What exec hands its relay (JSON in the relay's environment).</summary>
public sealed record ExecLaunch
{
    public const string EnvironmentVariable = "SCRUN_EXEC_LAUNCH";

    /// <summary>The hidden verb that runs an exec's relay.</summary>
    public const string Verb = "__exec";

    public required string Root { get; init; }

    public required string Id { get; init; }

    /// <summary>The OCI process JSON.</summary>
    public required string Process { get; init; }

    /// <summary>The slave of the pty whose master went to --console-socket: the relay's terminal.</summary>
    public string? Terminal { get; init; }

    /// <summary>The pipe on which the relay says whether the process started.</summary>
    public int ReportDescriptor { get; init; } = -1;

    public static ExecLaunch? TakeFromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(EnvironmentVariable);
        Environment.SetEnvironmentVariable(EnvironmentVariable, null);
        try
        {
            return text is null ? null : JsonSerializer.Deserialize(text, ExecJsonContext.Default.ExecLaunch);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The relay's process: this scrun, its hidden verb, this context in its environment.</summary>
    internal System.Diagnostics.ProcessStartInfo StartInfo()
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the scrun executable"))
        {
            UseShellExecute = false,
            ArgumentList = { Verb },
        };
        psi.Environment[EnvironmentVariable] = JsonSerializer.Serialize(this, ExecJsonContext.Default.ExecLaunch);
        return psi;
    }
}

/// <summary>
/// The local process that stands for an exec's remote one (its pid is the one in --pid-file,
/// which conmon and containerd-shim reap as subreapers): it hands its stdio (or its terminal) to
/// the container's anchor, which runs the process on the container's node; it passes on the
/// signals it gets and its terminal's resizes, and exits with the process's exit code.
/// </summary>
public static class ExecRelay
{
    /// <summary>The relay's exit status when its anchor went away before the process's end was known.</summary>
    public const int AnchorLost = 255;

    public static int Run(ExecLaunch launch, TextWriter stderr)
    {
        using var report = new CreationReport(launch.ReportDescriptor, () => { });
        Socket socket;
        try
        {
            if (launch.Terminal is { } terminal)
            {
                TakeTerminal(terminal);
            }
            socket = Connect(launch);
        }
        catch (Exception e) when (e is ContainerException or IOException or SocketException)
        {
            report.Send(new ControlResponse { Error = e.Message });
            return 1;
        }
        using (socket)
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var started = Read(reader);
            if (started is not { Ok: true })
            {
                report.Send(started ?? new ControlResponse { Error = $"the anchor of container \"{launch.Id}\" went away before the process started" });
                return 1;
            }
            report.Send(started);
            var gate = new Lock();
            void Send(ControlRequest request)
            {
                lock (gate)
                {
                    try
                    {
                        socket.Send(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(request, ControlJsonContext.Default.ControlRequest) + "\n"));
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException)
                    {
                    }
                }
            }
            using var signals = new ForwardedSignals(signal =>
            {
                Send(new ControlRequest { Op = ControlOperation.Kill, Signal = signal });
                return Task.CompletedTask;
            }, Serilog.Core.Logger.None);
            using var resizes = launch.Terminal is null ? null : PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context =>
            {
                context.Cancel = true;
                Send(new ControlRequest { Op = ControlOperation.Resize });
            });
            while (Read(reader) is { } answer)
            {
                if (answer.ExitCode is { } exitCode)
                {
                    return exitCode;
                }
            }
            stderr.Write($"scrun: error: exec in container \"{launch.Id}\": its anchor went away before the process ended\n");
            return AnchorLost;
        }
    }

    /// <summary>The terminal becomes the relay's stdio and controlling terminal (a session of its own), as runc's exec process would have it.</summary>
    private static void TakeTerminal(string path)
    {
        LibC.setsid();
        var fd = LibC.open(path, LibC.ORdwr);
        if (fd < 0)
        {
            throw new ContainerException($"cannot open the exec's terminal {path}: {LibC.LastError()}");
        }
        Terminal.MakeControlling(fd);
        for (var target = 0; target <= 2; target++)
        {
            LibC.MoveOnto(fd, target);
        }
        if (fd > 2)
        {
            LibC.close(fd);
        }
    }

    private static Socket Connect(ExecLaunch launch)
    {
        var paths = new ContainerPaths(launch.Root, ContainerId.Parse(launch.Id));
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            AnchorSocket.WithEndPoint(paths, endPoint =>
            {
                socket.Connect(endPoint);
                return true;
            });
            var request = new ControlRequest { Op = ControlOperation.Exec, Process = launch.Process, Terminal = launch.Terminal is not null };
            var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(request, ControlJsonContext.Default.ControlRequest) + "\n");
            DescriptorPassing.Send(socket, line, [0, 1, 2]);
            return socket;
        }
        catch (Exception e) when (e is SocketException or DirectoryNotFoundException)
        {
            socket.Dispose();
            throw new ContainerException($"cannot exec in container \"{launch.Id}\": cannot exec in a stopped container");
        }
        catch (IOException e)
        {
            socket.Dispose();
            throw new ContainerException($"cannot exec in container \"{launch.Id}\": its anchor cannot be reached ({e.Message})");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static ControlResponse? Read(StreamReader reader)
    {
        try
        {
            return reader.ReadLine() is { } line ? JsonSerializer.Deserialize(line, ControlJsonContext.Default.ControlResponse) : null;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ExecLaunch))]
internal sealed partial class ExecJsonContext : JsonSerializerContext;
