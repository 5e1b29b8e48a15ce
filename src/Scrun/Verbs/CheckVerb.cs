using Scrun.Cli;
using Scrun.Containers;
using Scrun.Containers.Staging;
using Scrun.Slurm;
using Scrun.Slurm.Auth;
using Scrun.Slurm.Config;
using Scrun.Slurm.Wire;

namespace Scrun.Verbs;

/// <summary>
/// <c>scrun check</c>: reads slurm.conf, makes and verifies a MUNGE credential, pings every
/// controller and reports its protocol version, and says in plain words what is wrong.
/// </summary>
internal static class CheckVerb
{
    public static int Run(GlobalOptions global, TextWriter stdout)
    {
        var problems = 0;
        void Ok(string what, string detail) => stdout.Write($"ok      {what}: {detail}\n");
        void Fail(string what, string detail)
        {
            problems++;
            stdout.Write($"FAILED  {what}: {detail}\n");
        }

        var settings = SlurmClientSettings.FromProcessEnvironment(global.SlurmConf);
        SlurmConfig config;
        try
        {
            config = settings.LoadConfig();
            Ok("slurm.conf", $"{config.Path} (cluster {config.ClusterName ?? "unnamed"}, controllers {string.Join(", ", config.Controllers)}, port {Ports(config)}, {config.AuthType})");
        }
        catch (SlurmConfigException e)
        {
            Fail("slurm.conf", e.Message);
            return 1;
        }

        CheckLuaScript(config, Ok, Fail);

        if (settings.Jwt is not null)
        {
            Ok("auth", "SLURM_JWT is set: requests use auth/jwt");
        }
        else
        {
            var munge = new MungeClient(config.MungeSocket);
            try
            {
                var payload = "scrun check"u8.ToArray();
                var decoded = munge.Decode(munge.Encode(payload, config.MungeTimeToLive));
                if (!decoded.Payload.AsSpan().SequenceEqual(payload))
                {
                    Fail("munge", $"munged at {munge.SocketPath} returned a different payload");
                }
                else
                {
                    Ok("munge", $"credential encoded and decoded through {munge.SocketPath} (uid {decoded.Uid}, gid {decoded.Gid})");
                }
            }
            catch (MungeException e)
            {
                Fail("munge", e.Message);
            }
        }

        if (Environment.GetEnvironmentVariable(SlurmClientSettings.ProtocolVariable) is { Length: > 0 } release)
        {
            if (settings.PinnedProtocol is not { IsSupported: true } version)
            {
                Fail(SlurmClientSettings.ProtocolVariable, $"'{release}' is not a wire format scrun speaks ({string.Join(", ", ProtocolVersion.Supported.Select(v => v.Release))})");
                return 1;
            }
            Ok("protocol", $"pinned to {version} by {SlurmClientSettings.ProtocolVariable} (no probing)");
        }
        var controller = settings.Connect(config);
        var spoken = settings.PinnedProtocol;
        foreach (var host in config.Controllers)
        {
            try
            {
                var ping = controller.PingControllerAsync(host).GetAwaiter().GetResult();
                spoken ??= ping.Version;
                Ok($"slurmctld {host}", $"up on port {ping.Port}, protocol {ping.Version}, {ping.RoundTrip.TotalMilliseconds:0.0} ms");
            }
            catch (Exception e) when (e is SlurmClientException or System.Net.Sockets.SocketException or TimeoutException)
            {
                Fail($"slurmctld {host}", Explain(e, host, config));
            }
        }
        CheckStepLauncher(config, spoken, Ok, Fail);
        stdout.Write(problems == 0 ? "scrun can talk to this cluster.\n" : $"{problems} problem(s) found.\n");
        return problems == 0 ? 0 : 1;
    }

    /// <summary>The site's stage-in/stage-out script loads as the anchor loads it (or there is none).</summary>
    private static void CheckLuaScript(SlurmConfig config, Action<string, string> ok, Action<string, string> fail)
    {
        var path = SiteScript.PathBeside(config);
        try
        {
            ok(SiteScript.Name, !SiteScript.LoadsBeside(config)
                ? $"none at {path}: containers use the built-in staging"
                : $"{path} loads and defines slurm_scrun_stage_in and slurm_scrun_stage_out");
        }
        catch (ContainerException e)
        {
            fail(SiteScript.Name, e.Message);
        }
    }

    /// <summary>Which launcher a container would get here, and why (SCRUN_STEP_LAUNCHER from this environment).</summary>
    private static void CheckStepLauncher(SlurmConfig config, ProtocolVersion? version, Action<string, string> ok, Action<string, string> fail)
    {
        try
        {
            var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
            var setting = JobOptions.From(environment, []).StepLauncher;
            var oci = OciConfig.LoadBeside(config);
            var choice = StepLauncherPolicy.For(setting, config, oci).Choose(version);
            ok("step launcher", choice.Native ? $"native, no srun needed ({choice.Why})" : $"srun ({choice.Why})");
            ok("compute nodes", oci.RunsNodeRun
                ? "oci.conf runs scrun node-run: start waits for the container's process, signals reach it alone"
                : "oci.conf does not run scrun node-run: signals reach every process of the step, as with Slurm's scrun (docs/configuration.md)");
        }
        catch (Exception e) when (e is ContainerException or SlurmConfigException)
        {
            fail("step launcher", e.Message);
        }
    }

    private static string Ports(SlurmConfig config) =>
        config.FirstPort == config.LastPort ? $"{config.FirstPort}" : $"{config.FirstPort}-{config.LastPort}";

    private static string Explain(Exception e, ControllerHost host, SlurmConfig config) => e switch
    {
        System.Net.Sockets.SocketException s => $"cannot connect to {host.Address}:{Ports(config)} ({s.Message}): is slurmctld running and reachable?",
        SlurmException { ErrorNumber: SlurmErrors.AuthenticationError } => $"authentication refused ({e.Message}): does this host share the cluster's munge key?",
        _ => e.Message,
    };
}
