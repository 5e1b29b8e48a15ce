using Scrun.Containers;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Containers;

public class JobOptionsTests
{
    private static readonly ContainerId s_id = ContainerId.Parse("c1");

    [Fact]
    public void Scrun_variables_become_the_job_and_the_container_env_overrides_the_runtime_env()
    {
        var options = JobOptions.From(
            [new("SCRUN_PARTITION", "debug"), new("SCRUN_TIMELIMIT", "10"), new("HOME", "/root"), new("SLURM_CONF", "/etc/x")],
            ["SCRUN_TIMELIMIT=1-02:30:00", "SCRUN_JOB_NAME=analysis", "SCRUN_JOB_NUM_NODES=2-4", "SCRUN_MEM_PER_NODE=4G", "PATH=/bin", "SCRUN_QOS=high"]);

        var job = options.ToJobDescriptor(s_id, "/work");

        Assert.Equal("debug", job.Partition);
        Assert.Equal((uint)((26 * 60) + 30), job.TimeLimit);
        Assert.Equal("analysis", job.Name);
        Assert.Equal(2u, job.MinNodes);
        Assert.Equal(4u, job.MaxNodes);
        Assert.Equal(4096UL, job.MinMemoryPerNode);
        Assert.Equal("high", job.Qos);
        Assert.Equal("c1", job.ContainerId);
        Assert.Equal("/work", job.WorkDir);
        Assert.Equal("/etc/x", options.Variables["SLURM_CONF"]);
        Assert.False(options.Variables.ContainsKey("HOME"));
        Assert.False(options.Variables.ContainsKey("PATH"));
    }

    [Fact]
    public void Without_variables_the_job_is_one_node_named_scrun()
    {
        var job = JobOptions.From([], []).ToJobDescriptor(s_id, "/w");
        Assert.Equal("scrun", job.Name);
        Assert.Equal(1u, job.MinNodes);
        Assert.Equal(NoValue.U32, job.TimeLimit);
    }

    [Theory]
    [InlineData("5", 5u)]
    [InlineData("5:30", 6u)]
    [InlineData("1:00:00", 60u)]
    [InlineData("2-0", 2880u)]
    [InlineData("1-1:1", 1501u)]
    [InlineData("0-0:0:1", 1u)]
    [InlineData("infinite", NoValue.Infinite32)]
    [InlineData("UNLIMITED", NoValue.Infinite32)]
    public void Slurm_time_formats(string text, uint minutes)
    {
        Assert.Equal(minutes, JobOptions.ParseMinutes("SCRUN_TIMELIMIT", text));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1:2:3:4")]
    [InlineData("-5")]
    [InlineData("1:-1")]
    [InlineData("")]
    public void Bad_times_name_the_variable(string text)
    {
        var error = Assert.Throws<ContainerException>(() => JobOptions.ParseMinutes("SCRUN_TIMELIMIT", text));
        Assert.StartsWith($"SCRUN_TIMELIMIT={text} is not valid", error.Message);
    }

    [Theory]
    [InlineData("512", 512UL)]
    [InlineData("512M", 512UL)]
    [InlineData("2g", 2048UL)]
    [InlineData("1T", 1048576UL)]
    [InlineData("1536K", 2UL)]
    public void Slurm_memory_sizes(string text, ulong megabytes)
    {
        Assert.Equal(megabytes, JobOptions.ParseMegabytes("SCRUN_MEM_PER_NODE", text));
    }

    [Fact]
    public void A_bad_value_is_a_one_line_error_naming_it()
    {
        // Said when the options are made (create), not when the job is asked for.
        var error = Assert.Throws<ContainerException>(() => JobOptions.From([], ["SCRUN_NTASKS=many"]));
        Assert.Equal("SCRUN_NTASKS=many is not valid: expected a number", error.Message);
    }

    [Fact]
    public void Step_options_become_srun_flags()
    {
        var options = JobOptions.From([], ["SCRUN_LABELIO=1", "SCRUN_MPI_TYPE=pmix", "SCRUN_CPU_BIND=cores"]);
        Assert.Equal(["--cpu-bind=cores", "--label", "--mpi=pmix"], options.StepArguments);
    }

    [Fact]
    public void An_existing_allocation_comes_from_slurm_job_id()
    {
        Assert.Equal(42u, JobOptions.From([new("SLURM_JOB_ID", "42")], []).ExistingJobId);
        Assert.Null(JobOptions.From([], []).ExistingJobId);
        Assert.Throws<ContainerException>(() => JobOptions.From([], ["SLURM_JOB_ID=x"]).ExistingJobId);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("0", false)]
    public void Scrun_quiet_silences_progress_lines(string? value, bool quiet)
    {
        var options = JobOptions.From(value is null ? [] : [new("SCRUN_QUIET", value)], []);
        Assert.Equal(quiet, options.Quiet);
    }

    [Fact]
    public void A_quiet_value_that_is_no_answer_names_the_variable()
    {
        var error = Assert.Throws<ContainerException>(() => JobOptions.From([], ["SCRUN_QUIET=loud"]).Quiet);
        Assert.Contains("SCRUN_QUIET=loud", error.Message);
    }
}
