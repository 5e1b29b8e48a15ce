using System.Text.Json;
using System.Text.Json.Serialization;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Scrun.Containers.Staging;
using Scrun.Slurm;
using Scrun.Slurm.Config;
using Scrun.Slurm.Wire;

namespace Scrun.Containers;

/// <summary>
/// Everything a container is run with, resolved and checked once, by create, before any job
/// exists: the bundle's config.json as create read it, the job's options, the cluster's
/// slurm.conf and oci.conf, the staging and the step launcher as far as they are decided before
/// the controller answers. Immutable; create writes it beside the state (<see cref="FileName"/>,
/// through the claimed directory) and the anchor reads it there, so nothing is derived twice and
/// nothing a user changes after create (config.json, SCRUN_* in the environment) changes the
/// container. Only secrets (<c>SLURM_JWT</c>) stay out of it, in the anchor's environment.
/// crun's <c>libcrun_context_s</c> and Tmds.Ssh's settings are the models.
/// </summary>
internal sealed record ContainerPlan
{
    public const string FileName = "plan.json";

    /// <summary>What create was asked for, made absolute (no descriptors: those are the anchor's launch).</summary>
    public required LaunchContext Launch { get; init; }

    /// <summary>config.json as create read and checked it.</summary>
    public required string ConfigJson { get; init; }

    /// <summary>The <c>SCRUN_*</c> and <c>SLURM_*</c> variables in effect (checked: <see cref="Job"/> cannot fail).</summary>
    public required IReadOnlyDictionary<string, string> JobVariables { get; init; }

    /// <summary>The cluster's slurm.conf (<c>-f</c>, <c>SLURM_CONF</c>, or the default).</summary>
    public required string SlurmConf { get; init; }

    /// <summary><c>SCRUN_SLURM_PROTOCOL</c>: the only wire format to speak, when set.</summary>
    public string? PinnedProtocol { get; init; }

    /// <summary>oci.conf beside slurm.conf.</summary>
    public required OciConfig Oci { get; init; }

    /// <summary>The site's scrun.lua beside slurm.conf, when there is one: it stages instead of scrun.</summary>
    public string? StagingScript { get; init; }

    /// <summary><c>SCRUN_STAGING_DIR</c> (checked), for the built-in staging.</summary>
    public string? StagingDirectory { get; init; }

    /// <summary>The step launcher as far as it is known before the controller answers.</summary>
    public required StepLauncherPolicy Launcher { get; init; }

    private BundleConfig? _config;
    private JobOptions? _job;

    [JsonIgnore]
    public BundleConfig Config => _config ??= BundleConfig.Parse(ConfigJson, Launch.Bundle);

    [JsonIgnore]
    public JobOptions Job => _job ??= JobOptions.FromVariables(JobVariables);

    [JsonIgnore]
    public ContainerPaths Paths => new(Launch.Root, ContainerId.Parse(Launch.Id));

    /// <summary>
    /// Resolves create's request in <paramref name="environment"/> (the runtime's: Docker's or
    /// Podman's, plus config.json's <c>process.env</c> for the job's options).
    /// </summary>
    /// <exception cref="ContainerException">Something create was given cannot work, said in one line.</exception>
    /// <exception cref="BundleException">The bundle is broken.</exception>
    public static ContainerPlan Resolve(LaunchContext launch, Func<string, string?> variable, IEnumerable<KeyValuePair<string, string>> environment)
    {
        var (configJson, config) = BundleConfig.Read(launch.Bundle);
        config.EnsureRootExists();
        config.EnsureCommandRuns();
        var job = JobOptions.From(environment, config.Env);
        var settings = SlurmClientSettings.FromEnvironment(launch.SlurmConf, variable);
        SlurmConfig slurm;
        OciConfig oci;
        try
        {
            slurm = settings.LoadConfig();
            oci = OciConfig.LoadBeside(slurm);
        }
        catch (SlurmConfigException e)
        {
            throw new ContainerException(e.Message);
        }
        var script = LuaStaging.PathBeside(slurm);
        var stagingDirectory = variable(BuiltInStaging.Variable) is { Length: > 0 } directory ? directory : null;
        var scripted = Lua.StagingScript.IsPresent(script);
        if (!scripted && stagingDirectory is not null)
        {
            Staging.StagingDirectory.Check(ContainerPaths.Resolve(stagingDirectory), BuiltInStaging.Variable); // others may not rewrite it
        }
        if (!scripted)
        {
            BuiltInStaging.EnsureNodesSeeRoot(config, ContainerId.Parse(launch.Id)); // a root filesystem no node could see: refused before the job
        }
        var launcher = StepLauncherPolicy.For(job.StepLauncher, slurm, oci);
        launcher.Known?.EnsureUsableHere(); // srun asked for where it cannot work: said now, not at start
        return new ContainerPlan
        {
            Launch = launch with { ReportDescriptor = -1, ClaimDescriptor = -1 },
            ConfigJson = configJson,
            JobVariables = job.Variables,
            SlurmConf = slurm.Path,
            PinnedProtocol = settings.PinnedProtocol?.Release,
            Oci = oci,
            StagingScript = scripted ? script : null,
            StagingDirectory = stagingDirectory,
            Launcher = launcher,
            _config = config,
            _job = job,
        };
    }

    /// <summary>How the anchor reaches the cluster: the plan's, with <paramref name="jwt"/> (a secret, never in the plan).</summary>
    public SlurmClientSettings SlurmSettings(string? jwt, string protocolCache) => new()
    {
        ConfigPath = SlurmConf,
        Jwt = jwt is { Length: > 0 } ? jwt : null,
        PinnedProtocol = PinnedProtocol is { } release && ProtocolVersion.TryParseRelease(release, out var version) ? version : null,
        ProtocolCache = protocolCache,
    };

    /// <summary>Writes the plan into the container's directory, which create holds (0600, never through a link).</summary>
    /// <exception cref="ContainerException">It could not be written.</exception>
    internal void Write(DirectoryHandle directory) =>
        StateStore.WriteFile(directory, Paths.Id, FileName, stream => JsonSerializer.Serialize(stream, this, PlanJsonContext.Default.ContainerPlan));

    /// <summary>The plan create wrote in the container's directory, held by the anchor.</summary>
    /// <exception cref="ContainerException">There is none, or it is not the caller's to trust.</exception>
    internal static ContainerPlan Read(DirectoryHandle directory, ContainerId id) =>
        StateStore.ReadFile(directory, id, FileName, stream => JsonSerializer.Deserialize(stream, PlanJsonContext.Default.ContainerPlan))
        ?? throw new ContainerException($"container \"{id}\" has no plan in {directory.Path}: it was not made by scrun create");
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, IgnoreReadOnlyProperties = true)]
[JsonSerializable(typeof(ContainerPlan))]
internal sealed partial class PlanJsonContext : JsonSerializerContext;
