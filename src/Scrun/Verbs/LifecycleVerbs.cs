using System.Text;
using System.Text.Json;
using Scrun.Cli;
using Scrun.Containers;
using Scrun.Slurm.Interop;
using Serilog;

namespace Scrun.Verbs;

/// <summary>The container verbs: options in, lifecycle calls out, errors as one line.</summary>
internal static class LifecycleVerbs
{
    public static int Run(GlobalOptions global, ContainerVerbOptions verb, ILogger log, TextWriter stdout)
    {
        try
        {
            var lifecycle = Lifecycle(global);
            // SCRUN_BUILD_RUNTIME: a podman build RUN step's verbs go to that runtime, on this node.
            var createBundle = verb is CreateOptions { Bundle: var bundle } ? Path.GetFullPath(bundle ?? Directory.GetCurrentDirectory()) : null;
            BuildSteps.RunLocallyIfBuildStep(verb.ContainerId, createBundle, lifecycle.Root, Environment.GetCommandLineArgs()[1..], log);
            switch (verb)
            {
                case CreateOptions create:
                    lifecycle.CreateAsync(LaunchOf(global, create), ProcessEnvironment()).GetAwaiter().GetResult();
                    return 0;
                case StartOptions start:
                    lifecycle.StartAsync(start.ContainerId).GetAwaiter().GetResult();
                    return 0;
                case StateOptions state:
                    stdout.Write(OciStateJson(lifecycle.StateAsync(state.ContainerId).GetAwaiter().GetResult()));
                    return 0;
                case KillOptions kill:
                    lifecycle.KillAsync(kill.ContainerId, kill.Signal, kill.All).GetAwaiter().GetResult();
                    return 0;
                case DeleteOptions delete:
                    lifecycle.DeleteAsync(delete.ContainerId, delete.Force).GetAwaiter().GetResult();
                    return 0;
                default:
                    return ExecVerbs.Run(lifecycle, verb);
            }
        }
        catch (ContainerException e)
        {
            log.Error("{Message}", e.Message);
            return e.ExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Error("{Verb}: {Message}", verb.Verb, e.Message);
            return 1;
        }
    }

    /// <summary>The containers of the state root <c>--root</c> names (else <c>$XDG_RUNTIME_DIR/scrun</c>).</summary>
    public static ContainerLifecycle Lifecycle(GlobalOptions global) =>
        new(ContainerPaths.ResolveRoot(global.Root, Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"), ProcessIdentity.Current));

    /// <summary>What create (or run) was asked for, as the context the container is created with.</summary>
    /// <exception cref="ContainerException"><c>--preserve-fds</c>: nothing can honour it.</exception>
    public static LaunchContext LaunchOf(GlobalOptions global, CreateOptions create)
    {
        if (create.PreserveFds > 0)
        {
            // Descriptors of the login node cannot reach a process on a compute node.
            throw new ContainerException($"--preserve-fds {create.PreserveFds}: file descriptors cannot be passed to a container that runs on a compute node");
        }
        return new LaunchContext
        {
            Id = create.ContainerId.Value,
            Bundle = create.Bundle ?? Directory.GetCurrentDirectory(),
            PidFile = create.PidFile,
            ConsoleSocket = create.ConsoleSocket,
            Log = global.Log,
            SlurmConf = global.SlurmConf,
        };
    }

    /// <summary>The runtime's environment, as Docker or Podman (and config.json's caller) set it.</summary>
    public static Dictionary<string, string> ProcessEnvironment()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        return environment;
    }

    /// <summary>The OCI state document, with runc's extra members (rootfs, created, owner).</summary>
    public static string OciStateJson(ContainerState state)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("ociVersion", state.OciVersion);
            json.WriteString("id", state.Id);
            json.WriteNumber("pid", state.Status == ContainerStatus.Stopped ? 0 : state.AnchorPid);
            json.WriteString("status", state.Status.OciStatus());
            json.WriteString("bundle", state.Bundle);
            json.WriteString("rootfs", state.RootPath);
            json.WriteString("created", state.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("owner", state.Owner);
            json.WriteStartObject("annotations");
            foreach (var (key, value) in state.Annotations)
            {
                json.WriteString(key, value);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
