using System.Globalization;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Wire;

namespace Scrun.Slurm.Steps;

/// <summary>
/// The variables <c>srun --jobid J --job-name N --container B [--container-id I] [--pty]</c> adds to
/// its own environment to make a task's (<c>REQUEST_LAUNCH_TASKS</c>' env), release by release, as
/// one table in the order srun sets them: its options, its MPI plugin, its own limits, mask and
/// priority, the job's lookup, <c>setup_env</c>, <c>set_env_from_opts</c> and <c>env_array_for_step</c>.
/// A name srun sets twice with the same value appears once, where srun first puts it.
/// </summary>
public static class LauncherEnvironment
{
    private static readonly Variable[] s_table =
    [
        // opt.c: _opt_args
        new("SLURM_CONTAINER", Placement.UnlessPresent, f => f.Container),
        new("SLURM_CONTAINER_ID", Placement.UnlessPresent, f => f.ContainerId, VersionRange.From(ProtocolVersion.V23_02)),
        // mpi_g_client_init; slurmstepd needs it (22.05 ends the step without it). The native
        // launcher runs no MPI plugin's launcher side (pmi2's agent, pmix's abort agent live in srun).
        new("SLURM_MPI_TYPE", Placement.Set, _ => "none"),
        // srun_job.c: _set_rlimit_env, set_prio_process_env, _set_umask_env
        .. ResourceLimits.All.Select(limit => new Variable($"SLURM_RLIMIT_{limit.Name}", Placement.Set, f => SoftLimit(f, limit))),
        new("SLURM_PRIO_PROCESS", Placement.Set, f => f.Process.Priority?.ToString(CultureInfo.InvariantCulture)),
        new("SRUN_DEBUG", Placement.UnlessPresent, _ => "3"), // LOG_LEVEL_INFO, srun without -v or -Q
        new("SLURM_UMASK", Placement.UnlessPresent, f => Umask(f.Process.Umask)),
        // srun_job.c: _set_env_vars, from the job's lookup (22.05 names the first het group even for a plain job)
        new("SLURM_JOB_CPUS_PER_NODE_PACK_GROUP_0", Placement.UnlessPresent, CpusPerNode, VersionRange.Until(ProtocolVersion.V23_02)),
        new("SLURM_JOB_CPUS_PER_NODE", Placement.UnlessPresent, CpusPerNode, VersionRange.From(ProtocolVersion.V23_02)),
        new(f => f.Allocation.Environment, Placement.UnlessPresent),
        new("SLURM_MEM_PER_CPU", Placement.UnlessPresent, f => MemoryPerCpu(f.Allocation.MemoryPerNode), VersionRange.From(ProtocolVersion.V23_02)),
        new("SLURM_MEM_PER_NODE", Placement.UnlessPresent, f => MemoryPerNode(f.Allocation.MemoryPerNode), VersionRange.From(ProtocolVersion.V23_02)),
        // env.c: setup_env
        new("SLURM_NTASKS", Placement.Set, f => Number(f.Layout.TaskCount)),
        new("SLURM_NPROCS", Placement.Set, f => Number(f.Layout.TaskCount)),
        new("SLURM_DISTRIBUTION", Placement.Set, Distribution),
        new("SLURMD_DEBUG", Placement.Set, _ => "2", VersionRange.From(ProtocolVersion.V23_02)), // LOG_LEVEL_ERROR, srun's default since 23.02
        new("SLURM_JOB_ID", Placement.Set, f => Number(f.Step.JobId)),
        new("SLURM_JOBID", Placement.Set, f => Number(f.Step.JobId)),
        new("SLURM_JOB_SLUID", Placement.Set, f => f.Step.Sluid == 0 ? null : Sluid(f.Step.Sluid), VersionRange.From(ProtocolVersion.V26_05)),
        new("SLURM_JOB_NAME", Placement.Set, f => f.JobName),
        new("SLURM_STEP_ID", Placement.Set, f => Number(f.Step.StepNumber)),
        new("SLURM_STEPID", Placement.Set, f => Number(f.Step.StepNumber)),
        new("SLURM_NODELIST", Placement.Set, f => f.Allocation.NodeList),
        new("SLURM_JOB_PARTITION", Placement.Set, f => f.Allocation.Partition),
        new("SLURM_TASKS_PER_NODE", Placement.Set, f => TasksPerNode(f.Layout)),
        new("SLURM_PTY_PORT", Placement.Set, f => f.Terminal is { } terminal ? Number(terminal.Port) : null),
        // srun, which always has a terminal's size, sends them when set; 0x0 for a size not known
        // yet keeps slurmstepd from logging "SLURM_PTY_WIN_COL env var not set".
        new("SLURM_PTY_WIN_COL", Placement.Set, f => f.Terminal is { } terminal ? Number(terminal.Size.Columns) : null),
        new("SLURM_PTY_WIN_ROW", Placement.Set, f => f.Terminal is { } terminal ? Number(terminal.Size.Rows) : null),
        // From 23.02 srun's --jobid path sends 0 for both ids (it never fills them in); slurmstepd
        // 24.11+ puts the owner's in their place, as the native launcher does from the start.
        new("SLURM_JOB_UID", Placement.Set, f => Number(f.Owner.UserId)),
        new("SLURM_JOB_USER", Placement.Set, f => f.Owner.UserName, VersionRange.Until(ProtocolVersion.V23_02)),
        new("SLURM_JOB_GID", Placement.Set, f => Number(f.Owner.GroupId), VersionRange.From(ProtocolVersion.V23_02)),
        new("SLURM_WORKING_CLUSTER", Placement.Set, WorkingCluster, VersionRange.Until(ProtocolVersion.V23_11)),
        // env.c: set_env_from_opts, an array srun then merges its environment into
        new("OMPI_MCA_plm_slurm_args", Placement.Leading, _ => "--external-launcher", VersionRange.From(ProtocolVersion.V23_11)),
        new("PRTE_MCA_plm_slurm_args", Placement.Leading, _ => "--external-launcher", VersionRange.From(ProtocolVersion.V23_11)),
        .. HydraBootstrap("HYDRA_BOOTSTRAP", "HYDRA_LAUNCHER_EXTRA_ARGS"),
        .. HydraBootstrap("I_MPI_HYDRA_BOOTSTRAP", "I_MPI_HYDRA_BOOTSTRAP_EXEC_EXTRA_ARGS"),
        // env.c: env_array_for_step
        new("SLURM_CLUSTER_NAME", Placement.Set, f => f.Config.ClusterName ?? "(null)", VersionRange.From(ProtocolVersion.V25_11)),
        new("SLURM_JOB_ACCOUNT", Placement.Set, f => f.Allocation.Account, VersionRange.From(ProtocolVersion.V25_11)),
        new("SLURM_JOB_GROUP", Placement.Set, f => f.Owner.GroupName, VersionRange.From(ProtocolVersion.V25_11)),
        new("SLURM_JOB_NODELIST", Placement.UnlessPresent, f => f.Layout.NodeList),
        new("SLURM_STEP_NODELIST", Placement.Set, f => f.Layout.NodeList),
        new("SLURM_STEP_NUM_NODES", Placement.Set, f => Number(f.Layout.NodeCount)),
        new("SLURM_STEP_NUM_TASKS", Placement.Set, f => Number(f.Layout.TaskCount)),
        new("SLURM_STEP_TASKS_PER_NODE", Placement.Set, f => TasksPerNode(f.Layout)),
        new("SLURM_STEP_LAUNCHER_PORT", Placement.Set, f => Number(f.ResponsePort)),
        new("SLURM_STEP_RESV_PORTS", Placement.Set, f => f.ReservedPorts),
        new("SLURM_NNODES", Placement.Set, f => Number(f.Layout.NodeCount)),
        new("SLURM_SRUN_COMM_PORT", Placement.Set, f => Number(f.ResponsePort)),
    ];

    /// <summary>
    /// The task's environment: <paramref name="environment"/> (srun's own, <c>NAME=value</c>) with
    /// what srun adds, each name once.
    /// </summary>
    public static IReadOnlyList<string> Build(StepFacts facts, IEnumerable<string> environment)
    {
        var result = new OrderedEnvironment(environment);
        foreach (var variable in s_table.Where(v => v.Releases.Contains(facts.Release)))
        {
            foreach (var (name, value) in variable.Values(facts, result))
            {
                switch (variable.Placement)
                {
                    case Placement.Set:
                        result.Set(name, value);
                        break;
                    case Placement.UnlessPresent:
                        result.SetUnlessPresent(name, value);
                        break;
                    case Placement.Leading:
                        result.SetLeading(name, value);
                        break;
                }
            }
        }
        return result.ToList();
    }

    /// <summary>
    /// The release whose srun a step created in <paramref name="format"/> stands in for. A
    /// controller of 25.11 or later speaks 25.05's format too, but gives every job a sluid
    /// (<see cref="JobStepCreateResponse.Sluid"/>); 26.05 is the newest whose srun this table knows.
    /// </summary>
    public static ProtocolVersion ReleaseOf(ProtocolVersion format, ulong sluid) =>
        sluid != 0 && format < ProtocolVersion.V26_05 ? ProtocolVersion.V26_05 : format;

    /// <summary><c>uint16_array_to_str</c> of the tasks per node: <c>2(x3),1</c>.</summary>
    public static string TasksPerNode(StepLayout layout) =>
        Compressed(Runs(layout.TaskIds.Select(ids => (uint)ids.Length)));

    /// <summary><c>uint32_compressed_to_str</c> of the job's CPUs per node: <c>2(x3),1</c>.</summary>
    public static string CpusPerNode(JobAllocation allocation) =>
        Compressed(allocation.CpusPerNode.Zip(allocation.CpuCountRepetitions, (count, repeats) => ((uint)count, repeats)));

    /// <summary><c>print_sluid</c>: <c>s</c> and 13 Crockford base32 digits, the first holding the top 4 bits.</summary>
    public static string Sluid(ulong sluid)
    {
        const string digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        var text = new char[14];
        text[0] = 's';
        for (var i = 0; i < 13; i++)
        {
            text[13 - i] = digits[(int)((sluid >> (5 * i)) & 0x1F)];
        }
        return new string(text);
    }

    private static string? CpusPerNode(StepFacts facts) => CpusPerNode(facts.Allocation);

    private static string? SoftLimit(StepFacts facts, ResourceLimit limit) =>
        ResourceLimits.Propagated(facts.Config).Contains(limit.Name) && facts.Process.SoftLimits.TryGetValue(limit.Name, out var soft)
            ? soft.ToString(CultureInfo.InvariantCulture)
            : null;

    /// <summary><c>"0%d%d%d"</c> of the mask's octal digits.</summary>
    private static string Umask(uint mask) => $"0{(mask >> 6) & 7}{(mask >> 3) & 7}{mask & 7}";

    private const ulong MemoryPerCpuFlag = 0x8000000000000000;

    private static string? MemoryPerCpu(ulong memory) =>
        (memory & MemoryPerCpuFlag) != 0 ? Number(memory & ~MemoryPerCpuFlag) : null;

    private static string? MemoryPerNode(ulong memory) =>
        memory != 0 && (memory & MemoryPerCpuFlag) == 0 ? Number(memory) : null;

    /// <summary>
    /// srun's default for a step of at most one task per node, with <c>,pack</c> when
    /// SelectTypeParameters packs nodes (srun's <c>_opt_verify</c>).
    /// </summary>
    private static string Distribution(StepFacts facts)
    {
        var packs = facts.Config.SelectTypeParameters?.Split(',', StringSplitOptions.TrimEntries)
            .Any(p => p.Equals("CR_Pack_Nodes", StringComparison.OrdinalIgnoreCase)) == true;
        return packs ? "cyclic,pack" : "cyclic";
    }

    /// <summary>22.05's <c>ClusterName:address:SlurmctldPort:protocol:select plugin</c>, from srun's own slurm.conf.</summary>
    private static string WorkingCluster(StepFacts facts)
    {
        var config = facts.Config;
        var address = config.SlurmctldAddress ?? config.Controllers.FirstOrDefault()?.Address ?? "(null)";
        return string.Create(CultureInfo.InvariantCulture,
            $"{config.ClusterName ?? "(null)"}:{address}:{config.FirstPort}:{facts.Release.Value}:{SelectPluginId(facts)}");
    }

    /// <summary><c>SELECT_PLUGIN_*</c> of slurm.conf's SelectType (select/linear when unset, as in 22.05).</summary>
    private static uint SelectPluginId(StepFacts facts) => (facts.Config.SelectType ?? "select/linear") switch
    {
        "select/cons_tres" => 109,
        "select/cons_res" => 101,
        "select/linear" => 102,
        _ => facts.SelectPluginId,
    };

    /// <summary>
    /// <c>_set_ext_launcher_hydra</c>: a Hydra (MPICH, Intel MPI) bootstrap srun's environment
    /// leaves unset becomes srun, unless 24.05+ MpiParams says <c>disable_slurm_hydra_bootstrap</c>.
    /// </summary>
    private static IEnumerable<Variable> HydraBootstrap(string bootstrap, string extraArguments)
    {
        var from2311 = VersionRange.From(ProtocolVersion.V23_11);
        yield return new(bootstrap, Placement.Leading, (f, environment) => UsesSlurm(f, environment[bootstrap]) ? "slurm" : null, from2311);
        yield return new(extraArguments, Placement.Leading, (f, environment) => UsesSlurm(f, environment[bootstrap]) ? "--external-launcher" : null, from2311);
    }

    private static bool UsesSlurm(StepFacts facts, string? bootstrap) =>
        bootstrap == "slurm"
        || (bootstrap is null && !(facts.Release >= ProtocolVersion.V24_05 && facts.Config.MpiParams?.Contains("disable_slurm_hydra_bootstrap", StringComparison.Ordinal) == true));

    private static IEnumerable<(uint Value, uint Repeats)> Runs(IEnumerable<uint> values)
    {
        var runs = new List<(uint Value, uint Repeats)>();
        foreach (var value in values)
        {
            if (runs.Count > 0 && runs[^1].Value == value)
            {
                runs[^1] = (value, runs[^1].Repeats + 1);
            }
            else
            {
                runs.Add((value, 1));
            }
        }
        return runs;
    }

    private static string Compressed(IEnumerable<(uint Value, uint Repeats)> runs) =>
        string.Join(',', runs.Select(r => r.Repeats > 1
            ? string.Create(CultureInfo.InvariantCulture, $"{r.Value}(x{r.Repeats})")
            : Number(r.Value)));

    private static string Number(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>How srun puts a variable: <c>setenv</c> overwriting, <c>setenv</c> keeping, or in the array its environment is merged into.</summary>
    private enum Placement
    {
        Set,
        UnlessPresent,
        Leading,
    }

    /// <summary>One row: the variables srun sets at this point, in these releases.</summary>
    private sealed class Variable
    {
        private readonly Func<StepFacts, OrderedEnvironment, IEnumerable<(string Name, string Value)>> _values;

        public Variable(string name, Placement placement, Func<StepFacts, string?> value, VersionRange releases = default)
            : this(name, placement, (f, _) => value(f), releases)
        {
        }

        public Variable(string name, Placement placement, Func<StepFacts, OrderedEnvironment, string?> value, VersionRange releases = default)
        {
            Placement = placement;
            Releases = releases;
            _values = (f, environment) => value(f, environment) is { } v ? [(name, v)] : [];
        }

        /// <summary>A row of <c>NAME=value</c> entries the facts hold.</summary>
        public Variable(Func<StepFacts, IEnumerable<string>> entries, Placement placement)
        {
            Placement = placement;
            _values = (f, _) => entries(f)
                .Select(entry => (Entry: entry, Eq: entry.IndexOf('=', StringComparison.Ordinal)))
                .Where(e => e.Eq > 0)
                .Select(e => (e.Entry[..e.Eq], e.Entry[(e.Eq + 1)..]));
        }

        public Placement Placement { get; }

        public VersionRange Releases { get; }

        public IEnumerable<(string Name, string Value)> Values(StepFacts facts, OrderedEnvironment environment) => _values(facts, environment);
    }
}
