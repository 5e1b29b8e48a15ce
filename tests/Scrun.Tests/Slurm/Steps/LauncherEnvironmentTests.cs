using System.Globalization;
using Scrun.Slurm.Config;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Steps;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm.Steps;

/// <summary>
/// The variables the native launcher adds to a task's environment against those srun added in the
/// captured steps (<c>srun --jobid J sh -c ...</c> on 22.05, 24.11 and 26.05, run by uid 1901), and
/// their formats.
/// </summary>
public class LauncherEnvironmentTests
{
    /// <summary>What the captures' srun had in its environment before it began: the launcher's, not srun's.</summary>
    private static readonly string[] s_srunsOwn = ["UID_WRAPPER", "HOME", "PATH", "PWD", "SLURM_CONF"];

    /// <summary>srun's own limits, mask and priority in the captures.</summary>
    private static readonly LauncherProcess s_capturedSrun = new(
        new Dictionary<string, ulong>
        {
            ["CPU"] = ulong.MaxValue,
            ["FSIZE"] = ulong.MaxValue,
            ["DATA"] = ulong.MaxValue,
            ["STACK"] = 8388608,
            ["CORE"] = 0,
            ["RSS"] = ulong.MaxValue,
            ["NPROC"] = 96364,
            ["NOFILE"] = 1024,
            ["MEMLOCK"] = 8388608,
            ["AS"] = ulong.MaxValue,
        },
        Umask: 0x12,
        Priority: 0);

    public static TheoryData<string> Releases() => [.. CapturedSteps.Releases];

    [Theory]
    [MemberData(nameof(Releases))]
    public void Without_a_container_the_environment_is_the_captured_sruns_name_for_name_in_its_order(string release)
    {
        var captured = CapturedLaunch(release).Environment;
        var srunsOwn = captured.Where(e => s_srunsOwn.Contains(NameOf(e))).ToList();

        var ours = LauncherEnvironment.Build(CapturedFacts(release), srunsOwn);

        Assert.Equal(captured.Select(NameOf), ours.Select(NameOf));
        // srun sends 0 for the owner from 23.02 on (its --jobid path never fills them in); the native launcher sends the owner's.
        var ownerFromJob = release == "2205" ? [] : new[] { "SLURM_JOB_UID=1901", "SLURM_JOB_GID=1901" };
        Assert.Equal(captured.Select(e => ownerFromJob.FirstOrDefault(o => NameOf(o) == NameOf(e)) ?? e), ours);
        if (release != "2205")
        {
            Assert.Contains("SLURM_JOB_UID=0", captured);
            Assert.Contains("SLURM_JOB_GID=0", captured);
        }
    }

    [Theory]
    [MemberData(nameof(Releases))]
    public void A_container_step_adds_what_srun_added_and_the_container_variables(string release)
    {
        var captured = CapturedLaunch(release).Environment.Select(NameOf).Except(s_srunsOwn);
        var facts = CapturedFacts(release) with { Container = "/srv/bundle", ContainerId = "c1" };
        string[] container = ["PATH=/usr/bin", "SCRUN_CONTAINER_ID=c1", "SLURM_CONF=/etc/slurm/slurm.conf"];

        var ours = LauncherEnvironment.Build(facts, container);

        var added = ours.Select(NameOf).Except(container.Select(NameOf)).ToList();
        string[] containerVariables = release == "2205" ? ["SLURM_CONTAINER"] : ["SLURM_CONTAINER", "SLURM_CONTAINER_ID"];
        Assert.Equal(captured.Concat(containerVariables).Order(StringComparer.Ordinal), added.Order(StringComparer.Ordinal));
        Assert.Contains("SLURM_CONTAINER=/srv/bundle", ours);
        Assert.Equal(ours.Count, ours.Select(NameOf).Distinct().Count()); // 22.05's slurmstepd appends every entry to config.json
    }

    [Fact]
    public void The_job_and_step_variables_name_the_job_and_the_step()
    {
        var facts = Facts(ProtocolVersion.V24_11) with { JobName = "scrun" };

        var ours = Variables(facts);

        Assert.Equal("42", ours["SLURM_JOB_ID"]);
        Assert.Equal("42", ours["SLURM_JOBID"]);
        Assert.Equal("3", ours["SLURM_STEP_ID"]);
        Assert.Equal("scrun", ours["SLURM_JOB_NAME"]);
        Assert.Equal("n[1-4]", ours["SLURM_NODELIST"]);
        Assert.Equal("n[1-4]", ours["SLURM_JOB_NODELIST"]);
        Assert.Equal("4", ours["SLURM_NNODES"]);
        Assert.Equal("batch", ours["SLURM_JOB_PARTITION"]);
        Assert.Equal("none", ours["SLURM_MPI_TYPE"]);
        Assert.Equal("cyclic", ours["SLURM_DISTRIBUTION"]);
        Assert.Equal("3", ours["SRUN_DEBUG"]); // srun's LOG_LEVEL_INFO: -v made it 4
        Assert.Equal("2", ours["SLURMD_DEBUG"]);
        Assert.Equal("40000", ours["SLURM_SRUN_COMM_PORT"]);
        Assert.Equal("40000", ours["SLURM_STEP_LAUNCHER_PORT"]);
    }

    [Fact]
    public void Tasks_and_cpus_per_node_are_run_length_encoded_as_slurm_writes_them()
    {
        var facts = Facts(ProtocolVersion.V24_11) with
        {
            Layout = Layout("n[1-4]", [[0, 1], [2, 3], [4, 5], [6]]),
            Allocation = Allocation() with { CpusPerNode = [2, 1], CpuCountRepetitions = [3, 1] },
        };

        var ours = Variables(facts);

        Assert.Equal("2(x3),1", ours["SLURM_TASKS_PER_NODE"]);
        Assert.Equal("2(x3),1", ours["SLURM_STEP_TASKS_PER_NODE"]);
        Assert.Equal("2(x3),1", ours["SLURM_JOB_CPUS_PER_NODE"]);
        Assert.Equal("7", ours["SLURM_NTASKS"]);
        Assert.Equal("1(x4)", LauncherEnvironment.TasksPerNode(Layout("n[1-4]", [[0], [1], [2], [3]])));
        Assert.Equal("1,2,1", LauncherEnvironment.TasksPerNode(Layout("n[1-3]", [[0], [1, 2], [3]])));
    }

    [Fact]
    public void On_22_05_the_cpus_per_node_name_the_first_het_group()
    {
        var ours = Variables(Facts(ProtocolVersion.V22_05));

        Assert.Equal("1(x4)", ours["SLURM_JOB_CPUS_PER_NODE_PACK_GROUP_0"]);
        Assert.False(ours.ContainsKey("SLURM_JOB_CPUS_PER_NODE"));
    }

    [Theory]
    [InlineData(0x12u, "0022")]
    [InlineData(0x3Fu, "0077")]
    [InlineData(0u, "0000")]
    [InlineData(0x1FFu, "0777")]
    public void The_umask_is_four_octal_digits(uint mask, string expected) =>
        Assert.Equal(expected, Variables(Facts(ProtocolVersion.V24_11) with { Process = s_capturedSrun with { Umask = mask } })["SLURM_UMASK"]);

    [Fact]
    public void Every_limit_is_propagated_by_default_unlimited_as_the_largest_unsigned_long()
    {
        var ours = LauncherEnvironment.Build(Facts(ProtocolVersion.V22_05), []);

        Assert.Equal(
            ["CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS"],
            ours.Select(NameOf).Where(n => n.StartsWith("SLURM_RLIMIT_", StringComparison.Ordinal)).Select(n => n["SLURM_RLIMIT_".Length..]));
        Assert.Contains("SLURM_RLIMIT_CPU=18446744073709551615", ours);
        Assert.Contains("SLURM_RLIMIT_NOFILE=1024", ours);
    }

    [Theory]
    [InlineData("PropagateResourceLimits=NONE", "")]
    [InlineData("PropagateResourceLimits=NOFILE,RLIMIT_CORE", "CORE NOFILE")]
    [InlineData("PropagateResourceLimits=ALL\nPropagateResourceLimitsExcept=\"CPU, FSIZE DATA,STACK,RSS,NPROC,MEMLOCK,AS\"", "CORE NOFILE")]
    public void Only_the_limits_slurm_conf_propagates_are_passed_on(string line, string expected)
    {
        var facts = Facts(ProtocolVersion.V24_11) with { Config = Config(line) };

        var limits = LauncherEnvironment.Build(facts, []).Select(NameOf).Where(n => n.StartsWith("SLURM_RLIMIT_", StringComparison.Ordinal));

        Assert.Equal(expected, string.Join(' ', limits.Select(n => n["SLURM_RLIMIT_".Length..])));
    }

    [Fact]
    public void A_limit_slurm_does_not_know_is_a_configuration_error_as_for_srun() =>
        Assert.Throws<SlurmConfigException>(() => LauncherEnvironment.Build(Facts(ProtocolVersion.V24_11) with { Config = Config("PropagateResourceLimits=nofile") }, []));

    [Fact]
    public void The_working_cluster_is_22_05s_cluster_controller_port_protocol_and_select_plugin()
    {
        var config = Config("ClusterName=hpc\nSlurmctldHost=head(10.0.0.1)\nSlurmctldHost=backup(10.0.0.2)\nSlurmctldPort=6817-6820\nSelectType=select/cons_tres");

        Assert.Equal("hpc:10.0.0.1:6817:9728:109", Variables(Facts(ProtocolVersion.V22_05) with { Config = config })["SLURM_WORKING_CLUSTER"]);
        Assert.Equal("hpc:192.168.0.9:6817:9728:102", Variables(Facts(ProtocolVersion.V22_05) with
        {
            Config = config with { SlurmctldAddress = "192.168.0.9", SelectType = null },
        })["SLURM_WORKING_CLUSTER"]);
        Assert.False(Variables(Facts(ProtocolVersion.V24_11) with { Config = config }).ContainsKey("SLURM_WORKING_CLUSTER"));
    }

    [Fact]
    public void On_26_05_the_job_is_named_by_its_sluid_cluster_and_group()
    {
        var ours = Variables(CapturedFacts("2605") with { Allocation = Allocation() with { Account = "physics" } });

        Assert.Equal("sFR9M8MAHTR400", ours["SLURM_JOB_SLUID"]);
        Assert.Equal("lab2605", ours["SLURM_CLUSTER_NAME"]);
        Assert.Equal("scrunt", ours["SLURM_JOB_GROUP"]);
        Assert.Equal("physics", ours["SLURM_JOB_ACCOUNT"]);
    }

    [Fact]
    public void A_step_with_a_sluid_comes_from_25_11_or_later_though_it_speaks_25_05()
    {
        Assert.Equal(ProtocolVersion.V26_05, LauncherEnvironment.ReleaseOf(ProtocolVersion.V25_05, 0x1234));
        Assert.Equal(ProtocolVersion.V25_05, LauncherEnvironment.ReleaseOf(ProtocolVersion.V25_05, 0));
        Assert.Equal(ProtocolVersion.V24_11, LauncherEnvironment.ReleaseOf(ProtocolVersion.V24_11, 0));
    }

    [Fact]
    public void A_step_created_in_25_05s_format_by_a_26_05_controller_still_has_its_jobs_sluid_in_the_credential()
    {
        var created = CapturedStepCreated("2605");
        var inTheOlderFormat = created with { Step = created.Step with { Sluid = 0 }, CredentialVersion = ProtocolVersion.V25_05 };

        Assert.NotEqual(0ul, created.Step.Sluid);
        Assert.Equal(created.Step.Sluid, inTheOlderFormat.Sluid);
        Assert.Equal(0ul, CapturedStepCreated("2411").Sluid);
        Assert.Equal(0ul, CapturedStepCreated("2205").Sluid);
    }

    [Fact]
    public void Memory_the_job_asked_for_is_per_cpu_or_per_node_from_23_02()
    {
        var perCpu = Facts(ProtocolVersion.V24_11) with { Allocation = Allocation() with { MemoryPerNode = 0x8000000000000000 | 512 } };
        var perNode = Facts(ProtocolVersion.V24_11) with { Allocation = Allocation() with { MemoryPerNode = 4096 } };

        Assert.Equal("512", Variables(perCpu)["SLURM_MEM_PER_CPU"]);
        Assert.False(Variables(perCpu).ContainsKey("SLURM_MEM_PER_NODE"));
        Assert.Equal("4096", Variables(perNode)["SLURM_MEM_PER_NODE"]);
        Assert.DoesNotContain(Variables(Facts(ProtocolVersion.V24_11)).Keys, k => k.StartsWith("SLURM_MEM_PER_", StringComparison.Ordinal));
        Assert.DoesNotContain(Variables(perNode with { Release = ProtocolVersion.V22_05 }).Keys, k => k.StartsWith("SLURM_MEM_PER_", StringComparison.Ordinal));
    }

    [Fact]
    public void What_the_container_set_itself_stays_where_srun_keeps_it_and_is_replaced_where_srun_replaces_it()
    {
        string[] container = ["SLURM_JOB_NAME=mine", "SRUN_DEBUG=5", "SLURM_UMASK=0077", "SLURM_CONTAINER=/mine", "SLURM_JOB_NODELIST=n9", "A=1"];

        var ours = LauncherEnvironment.Build(Facts(ProtocolVersion.V24_11) with { Container = "/srv/bundle" }, container);

        Assert.Equal(["SLURM_JOB_NAME=step", "SRUN_DEBUG=5", "SLURM_UMASK=0077", "SLURM_CONTAINER=/mine", "SLURM_JOB_NODELIST=n9", "A=1"], ours.SkipWhile(e => !e.StartsWith("SLURM_JOB_NAME=", StringComparison.Ordinal)).Take(6));
        Assert.Equal(ours.Count, ours.Select(NameOf).Distinct().Count());
    }

    [Fact]
    public void The_external_launcher_variables_lead_and_a_hydra_bootstrap_the_container_chose_is_kept()
    {
        var ours = LauncherEnvironment.Build(Facts(ProtocolVersion.V24_11), ["A=1", "HYDRA_BOOTSTRAP=ssh", "I_MPI_HYDRA_BOOTSTRAP=slurm", "OMPI_MCA_plm_slurm_args=x"]);

        Assert.Equal(
            ["OMPI_MCA_plm_slurm_args=--external-launcher", "PRTE_MCA_plm_slurm_args=--external-launcher", "I_MPI_HYDRA_BOOTSTRAP=slurm", "I_MPI_HYDRA_BOOTSTRAP_EXEC_EXTRA_ARGS=--external-launcher", "A=1", "HYDRA_BOOTSTRAP=ssh"],
            ours.Take(6));
        Assert.DoesNotContain(ours, e => e.StartsWith("HYDRA_LAUNCHER_EXTRA_ARGS=", StringComparison.Ordinal));
        Assert.DoesNotContain(LauncherEnvironment.Build(Facts(ProtocolVersion.V22_05), []), e => e.StartsWith("OMPI_", StringComparison.Ordinal));
    }

    [Fact]
    public void Mpi_params_can_keep_slurm_out_of_an_unset_hydra_bootstrap()
    {
        var facts = Facts(ProtocolVersion.V24_11) with { Config = Config("MpiParams=ports=12000-12999,disable_slurm_hydra_bootstrap") };

        var ours = Variables(facts);

        Assert.False(ours.ContainsKey("HYDRA_BOOTSTRAP"));
        Assert.False(ours.ContainsKey("I_MPI_HYDRA_BOOTSTRAP"));
        Assert.Equal("--external-launcher", ours["OMPI_MCA_plm_slurm_args"]);
    }

    /// <summary>A terminal of no known size still says 0x0: slurmstepd logs an error for a pty step without the size (srun always knows one).</summary>
    [Fact]
    public void A_terminal_gives_its_port_and_size()
    {
        var sized = Variables(Facts(ProtocolVersion.V24_11) with { Terminal = (41000, new WindowSize(80, 24)) });
        var unsized = Variables(Facts(ProtocolVersion.V24_11) with { Terminal = (41000, new WindowSize(0, 0)) });

        Assert.Equal(("41000", "80", "24"), (sized["SLURM_PTY_PORT"], sized["SLURM_PTY_WIN_COL"], sized["SLURM_PTY_WIN_ROW"]));
        Assert.Equal("41000", unsized["SLURM_PTY_PORT"]);
        Assert.Equal(("0", "0"), (unsized["SLURM_PTY_WIN_COL"], unsized["SLURM_PTY_WIN_ROW"]));
        Assert.False(Variables(Facts(ProtocolVersion.V24_11)).ContainsKey("SLURM_PTY_PORT"));
    }

    [Fact]
    public void Packed_nodes_and_reserved_ports_show_as_srun_shows_them()
    {
        var ours = Variables(Facts(ProtocolVersion.V24_11) with { Config = Config("SelectTypeParameters=CR_Core,CR_Pack_Nodes"), ReservedPorts = "12000-12001" });

        Assert.Equal("cyclic,pack", ours["SLURM_DISTRIBUTION"]);
        Assert.Equal("12000-12001", ours["SLURM_STEP_RESV_PORTS"]);
    }

    [Fact]
    public void The_jobs_supplementary_variables_are_added_unless_set_and_the_allocation_replys_own_are_not()
    {
        var allocation = JobAllocation.From(new ResourceAllocationResponse
        {
            NodeList = "n1",
            Environment = ["SLURM_STEPMGR=n1", "SLURM_TASKS_PER_NODE=1", "BB_DIR=/bb", "KEPT=job"],
        });

        var ours = Variables(Facts(ProtocolVersion.V26_05) with { Allocation = allocation }, ["KEPT=container"]);

        Assert.Equal(["BB_DIR=/bb", "KEPT=job"], allocation.Environment);
        Assert.Equal("/bb", ours["BB_DIR"]);
        Assert.Equal("container", ours["KEPT"]);
        Assert.False(ours.ContainsKey("SLURM_STEPMGR"));
    }

    [Fact]
    public void This_processs_own_limits_mask_and_priority_are_the_kernels()
    {
        var process = LauncherProcess.Current();

        var limits = File.ReadAllLines("/proc/self/limits");
        foreach (var (name, line) in new[] { ("NOFILE", "Max open files"), ("STACK", "Max stack size"), ("CPU", "Max cpu time") })
        {
            var soft = limits.Single(l => l.StartsWith(line, StringComparison.Ordinal))[line.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
            Assert.Equal(soft == "unlimited" ? ulong.MaxValue : ulong.Parse(soft, CultureInfo.InvariantCulture), process.SoftLimits[name]);
        }
        Assert.Equal(ResourceLimits.All.Count, process.SoftLimits.Count);
        var umask = File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("Umask:", StringComparison.Ordinal))["Umask:".Length..].Trim();
        Assert.Equal(Convert.ToUInt32(umask, 8), process.Umask);
        var nice = File.ReadAllText("/proc/self/stat").Split(") ")[1].Split(' ')[16]; // field 19 of stat(5)
        Assert.Equal(int.Parse(nice, CultureInfo.InvariantCulture), process.Priority);
    }

    private static Dictionary<string, string> Variables(StepFacts facts, IEnumerable<string>? environment = null) =>
        LauncherEnvironment.Build(facts, environment ?? []).ToDictionary(NameOf, e => e[(e.IndexOf('=') + 1)..]);

    private static string NameOf(string entry) => entry[..entry.IndexOf('=')];

    private static SlurmConfig Config(string lines = "") => SlurmConfig.Parse($"ClusterName=hpc\nSlurmctldHost=head(10.0.0.1)\n{lines}\n");

    private static JobAllocation Allocation() => new() { NodeList = "n[1-4]", Partition = "batch", CpusPerNode = [1], CpuCountRepetitions = [4] };

    private static StepLayout Layout(string nodes, uint[][] taskIds) =>
        new(null, nodes, (uint)taskIds.Length, ProtocolVersion.V24_11, (uint)taskIds.Sum(t => t.Length), 1, taskIds, [1], [(uint)taskIds.Sum(t => t.Length)], null);

    /// <summary>A one-task-per-node step 42.3 on four nodes.</summary>
    internal static StepFacts Facts(ProtocolVersion release) => new()
    {
        Release = release,
        JobName = "step",
        Allocation = Allocation(),
        Owner = new JobOwner(1901, 1901, "scrunt", "scrunt"),
        Step = new StepId(42, 3),
        Layout = Layout("n[1-4]", [[0], [1], [2], [3]]),
        ResponsePort = 40000,
        Config = Config(),
        Process = s_capturedSrun,
    };

    /// <summary>What the captured srun knew: its step, its job (n1, partition debug, one CPU), its slurm.conf and its process.</summary>
    private static StepFacts CapturedFacts(string release)
    {
        var created = CapturedStepCreated(release);
        var launch = CapturedLaunch(release);
        var port = launch.Environment.Single(e => e.StartsWith("SLURM_SRUN_COMM_PORT=", StringComparison.Ordinal));
        return new StepFacts
        {
            Release = LauncherEnvironment.ReleaseOf(CapturedSteps.VersionOf(release), created.Step.Sluid),
            JobName = "sh",
            Allocation = new JobAllocation { NodeList = "n1", Partition = "debug", CpusPerNode = [1], CpuCountRepetitions = [1] },
            Owner = new JobOwner(1901, 1901, "scrunt", "scrunt"),
            Step = created.Step with { JobId = launch.JobId },
            Layout = created.Layout,
            ReservedPorts = created.ReservedPorts,
            ResponsePort = ushort.Parse(port[(port.IndexOf('=') + 1)..], CultureInfo.InvariantCulture),
            Config = release switch
            {
                "2205" => SlurmConfig.Parse("ClusterName=ceolab\nSlurmctldHost=vm(127.0.0.1)\nSlurmctldPort=26817\nSelectType=select/cons_tres\n"),
                "2411" => SlurmConfig.Parse("ClusterName=lab2411\nSlurmctldHost=vm(127.0.0.1)\nSlurmctldPort=36817\n"),
                _ => SlurmConfig.Parse("ClusterName=lab2605\nSlurmctldHost=vm(127.0.0.1)\nSlurmctldPort=36917\n"),
            },
            SelectPluginId = created.SelectPluginId,
            Process = s_capturedSrun,
        };
    }

    private static JobStepCreateResponse CapturedStepCreated(string release)
    {
        var message = SlurmFrame.Decode(CapturedSteps.Single(release, "5001-5002-step_create", "in_frame").AsSpan(SlurmFrame.LengthPrefixSize));
        var reader = new SlurmReader(message.Body);
        return JobStepCreateResponse.ReadBody(ref reader, message.Version);
    }

    private static LaunchTasksRequest CapturedLaunch(string release)
    {
        var message = SlurmFrame.Decode(CapturedSteps.Single(release, "6001-launch_tasks", "out_frame").AsSpan(SlurmFrame.LengthPrefixSize));
        var reader = new SlurmReader(message.Body);
        return LaunchTasksRequest.ReadBody(ref reader, message.Version, CapturedStepCreated(release).Credential.Length);
    }
}
