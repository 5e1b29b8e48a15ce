using System.Globalization;
using Scrun.Containers.Oci;
using Scrun.Containers.Staging;
using Scrun.Slurm.Interop;

namespace Scrun.Containers.Anchor;

/// <summary>
/// The environments scrun makes, in one place: the <c>SCRUN_*</c> variables Slurm's scrun
/// exports, the staging hooks' <c>job_env</c> (the job's variables, those, and SLURM_CONF), and
/// the step's (the container's <c>process.env</c>, those, and SLURM_CONF).
/// </summary>
internal sealed class ContainerEnvironment(LaunchContext launch, ContainerPaths paths, BundleConfig config)
{
    /// <summary>The variables scrun exports to the step and to staging hooks (Slurm's names).</summary>
    public Dictionary<string, string> Exports(StagedBundle? staged)
    {
        var identity = ProcessIdentity.Current;
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["SCRUN_OCI_VERSION"] = config.OciVersion,
            ["SCRUN_CONTAINER_ID"] = launch.Id,
            ["SCRUN_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            ["SCRUN_BUNDLE"] = staged?.Bundle ?? launch.Bundle,
            ["SCRUN_SUBMISSION_BUNDLE"] = launch.Bundle,
            ["SCRUN_PID_FILE"] = launch.PidFile ?? "",
            ["SCRUN_SOCKET"] = paths.Socket,
            ["SCRUN_SPOOL_DIR"] = paths.Directory,
            ["SCRUN_SUBMISSION_CONFIG_FILE"] = Path.Combine(launch.Bundle, "config.json"),
            ["SCRUN_ROOT"] = paths.Root,
            ["SCRUN_ROOTFS_PATH"] = staged?.RootPath ?? config.RootPath,
            ["SCRUN_SUBMISSION_ROOTFS_PATH"] = config.RootPath,
            ["SCRUN_USER"] = PasswordDatabase.UserName(identity.Uid),
            ["SCRUN_USER_ID"] = identity.Uid.ToString(CultureInfo.InvariantCulture),
            ["SCRUN_GROUP_ID"] = identity.Gid.ToString(CultureInfo.InvariantCulture),
        };
        if (launch.Log.File is { } log)
        {
            variables["SCRUN_LOG_FILE"] = log;
            variables["SCRUN_LOG_FORMAT"] = launch.Log.Format.Name();
        }
        foreach (var (key, value) in config.Annotations)
        {
            variables[$"SCRUN_ANNOTATION_{key}"] = value;
        }
        return variables;
    }

    /// <summary>The hooks' <c>job_env</c>: what salloc would export for the job, scrun's variables, SLURM_CONF.</summary>
    public Dictionary<string, string> ForHooks(IReadOnlyDictionary<string, string> jobVariables, string slurmConf)
    {
        var environment = new Dictionary<string, string>(jobVariables, StringComparer.Ordinal);
        return With(environment, Exports(staged: null), slurmConf);
    }

    /// <summary>The step's: the container's <c>process.env</c>, scrun's variables, SLURM_CONF.</summary>
    public Dictionary<string, string> ForStep(StagedBundle staged, string? slurmConf)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in config.Env)
        {
            var eq = entry.IndexOf('=');
            if (eq > 0)
            {
                environment[entry[..eq]] = entry[(eq + 1)..];
            }
        }
        return With(environment, Exports(staged), slurmConf);
    }

    private static Dictionary<string, string> With(Dictionary<string, string> environment, Dictionary<string, string> exports, string? slurmConf)
    {
        foreach (var (name, value) in exports)
        {
            environment[name] = value;
        }
        if (slurmConf is not null)
        {
            environment["SLURM_CONF"] = slurmConf;
        }
        return environment;
    }
}
