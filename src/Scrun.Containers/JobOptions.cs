using System.Globalization;
using Scrun.Slurm;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Wire;

namespace Scrun.Containers;

/// <summary>
/// The job a container asks for: Slurm's <c>SCRUN_*</c> variables (each the same-named salloc
/// option) turned into a job descriptor, and the step options among them turned into srun flags.
/// Unlike Slurm's scrun, <c>SCRUN_JOB_NAME</c> is honoured.
/// </summary>
public sealed class JobOptions
{
    private static readonly Dictionary<string, Action<JobDescriptor, string>> s_allocation = new(StringComparer.Ordinal)
    {
        ["SCRUN_ACCOUNT"] = static (j, v) => j.Account = v,
        ["SCRUN_ACCTG_FREQ"] = static (j, v) => j.AccountingFrequency = v,
        ["SCRUN_BURST_BUFFER"] = static (j, v) => j.BurstBuffer = v,
        ["SCRUN_CLUSTER_CONSTRAINT"] = static (j, v) => j.ClusterFeatures = v,
        ["SCRUN_CLUSTERS"] = static (j, v) => j.Clusters = v,
        ["SCRUN_CONSTRAINT"] = static (j, v) => j.Features = v,
        ["SCRUN_CORE_SPEC"] = static (j, v) => j.CoreSpec = ParseU16("SCRUN_CORE_SPEC", v),
        ["SCRUN_CPUS_PER_GPU"] = static (j, v) => j.CpusPerTres = $"gres/gpu:{ParseU32("SCRUN_CPUS_PER_GPU", v)}",
        ["SCRUN_CPUS_PER_TASK"] = static (j, v) => j.CpusPerTask = ParseU16("SCRUN_CPUS_PER_TASK", v),
        ["SCRUN_DELAY_BOOT"] = static (j, v) => j.DelayBoot = ParseMinutes("SCRUN_DELAY_BOOT", v) * 60,
        ["SCRUN_DEPENDENCY"] = static (j, v) => j.Dependency = v,
        ["SCRUN_EXCLUSIVE"] = static (j, v) => j.Shared = 0,
        ["SCRUN_GPUS"] = static (j, v) => j.TresPerJob = Gpus(v),
        ["SCRUN_GPUS_PER_NODE"] = static (j, v) => j.TresPerNode = Gpus(v),
        ["SCRUN_GPUS_PER_SOCKET"] = static (j, v) => j.TresPerSocket = Gpus(v),
        ["SCRUN_GPUS_PER_TASK"] = static (j, v) => j.TresPerTask = Gpus(v),
        ["SCRUN_GRES"] = static (j, v) => j.TresPerNode = string.Join(',', v.Split(',').Select(g => g.StartsWith("gres", StringComparison.Ordinal) ? g : $"gres/{g}")),
        ["SCRUN_JOB_NAME"] = static (j, v) => j.Name = v,
        ["SCRUN_JOB_NODELIST"] = static (j, v) => j.RequiredNodes = v,
        ["SCRUN_JOB_NUM_NODES"] = ApplyNodes,
        ["SCRUN_MEM_PER_CPU"] = static (j, v) => j.MinMemoryPerNode = ParseMegabytes("SCRUN_MEM_PER_CPU", v) | MemoryPerCpu,
        ["SCRUN_MEM_PER_GPU"] = static (j, v) => j.MemPerTres = $"gres/gpu:{ParseMegabytes("SCRUN_MEM_PER_GPU", v)}",
        ["SCRUN_MEM_PER_NODE"] = static (j, v) => j.MinMemoryPerNode = ParseMegabytes("SCRUN_MEM_PER_NODE", v),
        ["SCRUN_NCORES_PER_SOCKET"] = static (j, v) => j.CoresPerSocket = ParseU16("SCRUN_NCORES_PER_SOCKET", v),
        ["SCRUN_NETWORK"] = static (j, v) => j.Network = v,
        ["SCRUN_NSOCKETS_PER_NODE"] = static (j, v) => j.SocketsPerNode = ParseU16("SCRUN_NSOCKETS_PER_NODE", v),
        ["SCRUN_NTASKS"] = static (j, v) => j.NumTasks = ParseU32("SCRUN_NTASKS", v),
        ["SCRUN_NTASKS_PER_CORE"] = static (j, v) => j.TasksPerCore = ParseU16("SCRUN_NTASKS_PER_CORE", v),
        ["SCRUN_NTASKS_PER_GPU"] = static (j, v) => j.TasksPerTres = ParseU16("SCRUN_NTASKS_PER_GPU", v),
        ["SCRUN_NTASKS_PER_NODE"] = static (j, v) => j.TasksPerNode = ParseU16("SCRUN_NTASKS_PER_NODE", v),
        ["SCRUN_NTASKS_PER_TRES"] = static (j, v) => j.TasksPerTres = ParseU16("SCRUN_NTASKS_PER_TRES", v),
        ["SCRUN_OPEN_MODE"] = static (j, v) => j.OpenMode = v switch { "append" or "a" => 1, "truncate" or "t" => 2, _ => throw Invalid("SCRUN_OPEN_MODE", v, "append or truncate") },
        ["SCRUN_OVERCOMMIT"] = static (j, v) => j.Overcommit = 1,
        ["SCRUN_PARTITION"] = static (j, v) => j.Partition = v,
        ["SCRUN_PROFILE"] = static (j, v) => j.Profile = v.ToLowerInvariant() switch { "none" => 0, "energy" => 1, "lustre" => 2, "network" => 4, "task" => 8, "all" => 15, _ => throw Invalid("SCRUN_PROFILE", v, "none, energy, lustre, network, task or all") },
        ["SCRUN_QOS"] = static (j, v) => j.Qos = v,
        ["SCRUN_REQ_SWITCH"] = static (j, v) => j.RequiredSwitches = ParseU32("SCRUN_REQ_SWITCH", v.Split('@')[0]),
        ["SCRUN_RESERVATION"] = static (j, v) => j.Reservation = v,
        ["SCRUN_SPREAD_JOB"] = static (j, v) => j.BitFlags |= SpreadJob,
        ["SCRUN_THREAD_SPEC"] = static (j, v) => j.CoreSpec = (ushort)(ParseU16("SCRUN_THREAD_SPEC", v) | CoreSpecThread),
        ["SCRUN_THREADS_PER_CORE"] = static (j, v) => j.ThreadsPerCore = ParseU16("SCRUN_THREADS_PER_CORE", v),
        ["SCRUN_TIMELIMIT"] = static (j, v) => j.TimeLimit = ParseMinutes("SCRUN_TIMELIMIT", v),
        ["SCRUN_TIME_LIMIT"] = static (j, v) => j.TimeLimit = ParseMinutes("SCRUN_TIME_LIMIT", v),
        ["SCRUN_TRES_PER_TASK"] = static (j, v) => j.TresPerTask = v,
        ["SCRUN_USE_MIN_NODES"] = static (j, v) => j.BitFlags |= UseMinNodes,
        ["SCRUN_WAIT4SWITCH"] = static (j, v) => j.WaitForSwitch = ParseMinutes("SCRUN_WAIT4SWITCH", v) * 60,
        ["SCRUN_WCKEY"] = static (j, v) => j.Wckey = v,
        ["SCRUN_WORKING_DIR"] = static (j, v) => j.WorkDir = v,
        ["SCRUN_REMOTE_CWD"] = static (j, v) => j.WorkDir = v,
    };

    /// <summary>Step options: they mean nothing to an allocation, so they go to srun.</summary>
    private static readonly Dictionary<string, Func<string, string>> s_step = new(StringComparer.Ordinal)
    {
        ["SCRUN_CPU_BIND"] = static v => $"--cpu-bind={v}",
        ["SCRUN_CPU_FREQ_REQ"] = static v => $"--cpu-freq={v}",
        ["SCRUN_DISTRIBUTION"] = static v => $"--distribution={v}",
        ["SCRUN_EPILOG"] = static v => $"--epilog={v}",
        ["SCRUN_EXACT"] = static _ => "--exact",
        ["SCRUN_GPU_BIND"] = static v => $"--gpu-bind={v}",
        ["SCRUN_GPU_FREQ"] = static v => $"--gpu-freq={v}",
        ["SCRUN_GRES_FLAGS"] = static v => $"--gres-flags={v}",
        ["SCRUN_HINT"] = static v => $"--hint={v}",
        ["SCRUN_LABELIO"] = static _ => "--label",
        ["SCRUN_MEM_BIND"] = static v => $"--mem-bind={v}",
        ["SCRUN_MPI_TYPE"] = static v => $"--mpi={v}",
        ["SCRUN_OVERLAP"] = static _ => "--overlap",
        ["SCRUN_POWER"] = static v => $"--power={v}",
        ["SCRUN_PROLOG"] = static v => $"--prolog={v}",
        ["SCRUN_SIGNAL"] = static v => $"--signal={v}",
        ["SCRUN_SLURMD_DEBUG"] = static v => $"--slurmd-debug={v}",
        ["SCRUN_TASK_EPILOG"] = static v => $"--task-epilog={v}",
        ["SCRUN_TASK_PROLOG"] = static v => $"--task-prolog={v}",
        ["SCRUN_THREADS"] = static v => $"--threads={v}",
        ["SCRUN_TRES_BIND"] = static v => $"--tres-bind={v}",
        ["SCRUN_UNBUFFEREDIO"] = static _ => "--unbuffered",
    };

    private const ulong MemoryPerCpu = 0x8000000000000000;
    private const ulong SpreadJob = 0x00000001;
    private const ulong UseMinNodes = 0x00000004;
    private const ushort CoreSpecThread = 0x8000;

    /// <summary>Every variable is checked here, once: a bad value fails create, not a later step.</summary>
    /// <exception cref="ContainerException">A variable's value is not valid, said in one line.</exception>
    private JobOptions(IReadOnlyDictionary<string, string> variables)
    {
        Variables = variables;
        ExistingJobId = Variables.TryGetValue("SLURM_JOB_ID", out var job) && job.Length > 0
            ? uint.TryParse(job, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0 ? id
                : throw Invalid("SLURM_JOB_ID", job, "a job id")
            : null;
        Quiet = Variables.TryGetValue(QuietVariable, out var quiet) && quiet switch
        {
            "" or "0" or "no" or "false" => false,
            "1" or "yes" or "true" => true,
            _ => throw Invalid(QuietVariable, quiet, "1 or 0"),
        };
        StepLauncher = Variables.GetValueOrDefault(StepLauncherVariable) switch
        {
            null or "" or "auto" => StepLauncherSetting.Automatic,
            "native" => StepLauncherSetting.Native,
            "srun" => StepLauncherSetting.Srun,
            var text => throw Invalid(StepLauncherVariable, text, "native, srun or auto"),
        };
        StepArguments = Variables.Where(v => s_step.ContainsKey(v.Key)).OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => s_step[v.Key](v.Value)).ToList();
        _ = ToJobDescriptor(ContainerId.Parse("checked"), "/"); // the allocation's variables parse, or create fails now
    }

    /// <summary>The <c>SCRUN_*</c> and <c>SLURM_*</c> variables in effect (config.json's override the runtime's).</summary>
    public IReadOnlyDictionary<string, string> Variables { get; }

    /// <summary><c>SLURM_JOB_ID</c>: run in this existing allocation instead of asking for one.</summary>
    public uint? ExistingJobId { get; }

    /// <summary>
    /// <c>SCRUN_QUIET</c>: no progress lines ("waiting for job N") on the container's stderr,
    /// which is what <c>docker logs</c> shows; errors still appear. Like salloc's <c>--quiet</c>.
    /// </summary>
    public bool Quiet { get; }

    public const string QuietVariable = "SCRUN_QUIET";

    /// <summary><c>SCRUN_STEP_LAUNCHER</c>: <c>native</c>, <c>srun</c>, or <c>auto</c> (also when unset).</summary>
    public StepLauncherSetting StepLauncher { get; }

    /// <summary><c>SCRUN_JOB_NAME</c>, else "scrun": the job's name and its step's.</summary>
    public string JobName => Variables.GetValueOrDefault("SCRUN_JOB_NAME") ?? "scrun";

    /// <summary>srun flags for the step options that were set.</summary>
    public IReadOnlyList<string> StepArguments { get; }

    public const string StepLauncherVariable = "SCRUN_STEP_LAUNCHER";

    /// <summary>
    /// Collects the variables from the runtime's environment, then from config.json's
    /// <c>process.env</c> (<c>docker run -e SCRUN_PARTITION=x</c>): only <c>SCRUN_*</c> and <c>SLURM_*</c>.
    /// </summary>
    public static JobOptions From(IEnumerable<KeyValuePair<string, string>> runtimeEnvironment, IEnumerable<string> containerEnvironment)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in runtimeEnvironment)
        {
            if (IsJobVariable(key))
            {
                variables[key] = value;
            }
        }
        foreach (var entry in containerEnvironment)
        {
            var eq = entry.IndexOf('=');
            if (eq > 0 && IsJobVariable(entry[..eq]))
            {
                variables[entry[..eq]] = entry[(eq + 1)..];
            }
        }
        return new JobOptions(variables);
    }

    /// <summary>Options from variables collected before (a plan's), checked again as any are.</summary>
    public static JobOptions FromVariables(IReadOnlyDictionary<string, string> variables) =>
        new(new Dictionary<string, string>(variables.Where(v => IsJobVariable(v.Key)), StringComparer.Ordinal));

    private static bool IsJobVariable(string name) =>
        (name.StartsWith("SCRUN_", StringComparison.Ordinal) || name.StartsWith("SLURM_", StringComparison.Ordinal))
        && name != LaunchContext.EnvironmentVariable;

    /// <summary>The job descriptor for a new allocation (its variables were checked when these options were made).</summary>
    public JobDescriptor ToJobDescriptor(ContainerId id, string workDir)
    {
        var job = new JobDescriptor
        {
            Name = "scrun",
            ContainerId = id.Value,
            MinNodes = 1,
            WorkDir = workDir,
        };
        foreach (var (name, value) in Variables.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            if (s_allocation.TryGetValue(name, out var apply))
            {
                apply(job, value);
            }
        }
        if (job.MinNodes == 0)
        {
            job.MinNodes = 1;
        }
        return job;
    }

    private static void ApplyNodes(JobDescriptor job, string value)
    {
        var parts = value.Split('-', 2);
        job.MinNodes = ParseU32("SCRUN_JOB_NUM_NODES", parts[0]);
        job.MaxNodes = parts.Length == 2 ? ParseU32("SCRUN_JOB_NUM_NODES", parts[1]) : job.MinNodes;
    }

    private static string Gpus(string value) => $"gres/gpu:{value}";

    private static ushort ParseU16(string name, string value) =>
        ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n < NoValue.U16 ? n : throw Invalid(name, value, "a number");

    private static uint ParseU32(string name, string value) =>
        uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n < NoValue.U32 ? n : throw Invalid(name, value, "a number");

    /// <summary>Slurm's memory sizes: a number of megabytes, or with a K, M, G or T suffix.</summary>
    public static ulong ParseMegabytes(string name, string value)
    {
        var text = value.Trim().ToUpperInvariant();
        ulong scale = 1;
        var unit = text.Length > 0 ? text[^1] : '\0';
        if (char.IsAsciiLetter(unit))
        {
            scale = unit switch { 'K' => 0, 'M' => 1, 'G' => 1024, 'T' => 1024 * 1024, _ => throw Invalid(name, value, "a size such as 512M or 4G") };
            text = text[..^1];
        }
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            throw Invalid(name, value, "a size such as 512M or 4G");
        }
        return scale == 0 ? (amount + 1023) / 1024 : amount * scale;
    }

    /// <summary>
    /// Slurm's time formats, in minutes: <c>M</c>, <c>M:S</c>, <c>H:M:S</c>, <c>D-H</c>, <c>D-H:M</c>,
    /// <c>D-H:M:S</c>, or <c>infinite</c>/<c>unlimited</c>. Seconds round up.
    /// </summary>
    public static uint ParseMinutes(string name, string value) =>
        SlurmTime.TryParseMinutes(value, out var minutes) ? minutes : throw Invalid(name, value, "a time limit such as 30, 2:00:00 or 1-12:00");

    private static ContainerException Invalid(string name, string value, string expected) =>
        new($"{name}={value} is not valid: expected {expected}");
}

/// <summary><c>SCRUN_STEP_LAUNCHER</c>: who launches the container's step.</summary>
public enum StepLauncherSetting
{
    /// <summary>scrun's own launcher where it is known to work, else srun.</summary>
    Automatic,

    /// <summary>scrun speaks Slurm's step protocol itself.</summary>
    Native,

    /// <summary>srun --container.</summary>
    Srun,
}
