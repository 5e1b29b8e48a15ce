using Scrun.Containers;
using Scrun.Containers.Anchor;
using Scrun.Slurm.Config;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Containers;

public class StepLauncherChoiceTests
{
    private static readonly SlurmConfig s_plain = SlurmConfig.Parse("SlurmctldHost=ctl\n", "slurm.conf");

    [Fact]
    public void A_plain_cluster_gets_the_native_launcher()
    {
        var choice = StepLauncherChoice.For(StepLauncherSetting.Automatic, s_plain, new OciConfig(), ProtocolVersion.V22_05);
        Assert.True(choice.Native);
        Assert.Contains("22.05", choice.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void Switch_none_is_no_switch_plugin() =>
        Assert.True(StepLauncherChoice.For(StepLauncherSetting.Automatic, SlurmConfig.Parse("SlurmctldHost=ctl\nSwitchType=switch/none\n", "slurm.conf"), new OciConfig(), ProtocolVersion.V24_11).Native);

    [Fact]
    public void A_switch_plugin_means_srun()
    {
        var choice = StepLauncherChoice.For(StepLauncherSetting.Automatic, SlurmConfig.Parse("SlurmctldHost=ctl\nSwitchType=switch/hpe_slingshot\n", "slurm.conf"), new OciConfig(), ProtocolVersion.V24_11);
        Assert.False(choice.Native);
        Assert.Contains("SwitchType=switch/hpe_slingshot", choice.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void Srun_arguments_in_oci_conf_mean_srun()
    {
        var choice = StepLauncherChoice.For(StepLauncherSetting.Automatic, s_plain, new OciConfig { SrunArgs = ["--mpi=pmix"] }, ProtocolVersion.V22_05);
        Assert.False(choice.Native);
        Assert.Contains("--mpi=pmix", choice.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_controller_release_means_srun() =>
        Assert.False(StepLauncherChoice.For(StepLauncherSetting.Automatic, s_plain, new OciConfig(), null).Native);

    [Theory]
    [InlineData("native", true)]
    [InlineData("srun", false)]
    public void The_user_or_site_decides_first(string setting, bool native)
    {
        var switchCluster = SlurmConfig.Parse("SlurmctldHost=ctl\nSwitchType=switch/nvidia_imex\n", "slurm.conf");
        var choice = StepLauncherChoice.For(Enum.Parse<StepLauncherSetting>(setting, ignoreCase: true), switchCluster, new OciConfig(), ProtocolVersion.V22_05);
        Assert.Equal(native, choice.Native);
        Assert.Equal($"SCRUN_STEP_LAUNCHER={setting}", choice.Why);
    }

    [Theory]
    [InlineData(null, StepLauncherSetting.Automatic)]
    [InlineData("auto", StepLauncherSetting.Automatic)]
    [InlineData("", StepLauncherSetting.Automatic)]
    [InlineData("native", StepLauncherSetting.Native)]
    [InlineData("srun", StepLauncherSetting.Srun)]
    public void The_setting_comes_from_the_runtime_or_the_container(string? value, StepLauncherSetting setting)
    {
        var variables = value is null ? new Dictionary<string, string>() : new() { ["SCRUN_STEP_LAUNCHER"] = value };
        Assert.Equal(setting, JobOptions.From(variables, []).StepLauncher);
        Assert.Equal(StepLauncherSetting.Srun, JobOptions.From(variables, ["SCRUN_STEP_LAUNCHER=srun"]).StepLauncher);
    }

    [Fact]
    public void A_misspelt_setting_is_refused_by_name()
    {
        var error = Assert.Throws<ContainerException>(() => JobOptions.From(new Dictionary<string, string> { ["SCRUN_STEP_LAUNCHER"] = "nativ" }, []).StepLauncher);
        Assert.Equal("SCRUN_STEP_LAUNCHER=nativ is not valid: expected native, srun or auto", error.Message);
    }

    [Fact]
    public async Task Srun_takes_over_only_what_the_native_launcher_cannot_do()
    {
        var launch = new StepLaunch(1, "scrun", "c1", "/b", null, [], ["true"], new Dictionary<string, string>(), "/b", ProtocolVersion.V22_05);
        var log = new List<string>();
        var srun = new Runner(null);

        var step = await new FallbackStepLauncher(new Runner(new NativeLaunchUnsupportedException("node n9 is a cloud node")), () => Task.FromResult<IStepLauncher>(srun), log.Add).StartAsync(launch, default);
        Assert.Same(srun.Step, step);
        Assert.Equal("the native launcher cannot launch this step (node n9 is a cloud node): srun launches it", Assert.Single(log));

        var refused = new FallbackStepLauncher(new Runner(new ContainerException("n1 refused to launch step 1.0: Invalid user id")), () => Task.FromResult<IStepLauncher>(srun), log.Add);
        await Assert.ThrowsAsync<ContainerException>(() => refused.StartAsync(launch, default));
        Assert.Single(log);
    }

    private sealed class Runner(ContainerException? failure) : IStepLauncher
    {
        public IStep Step { get; } = new DoneStep();

        public Task<IStep> StartAsync(StepLaunch launch, CancellationToken cancellation) =>
            failure is null ? Task.FromResult(Step) : Task.FromException<IStep>(failure);

        private sealed class DoneStep : IStep
        {
            public StepCapabilities Can => StepCapabilities.Srun;

            public Task<int> Completion => Task.FromResult(0);

            public uint? StepNumber => null;

            public void Conclude(int exitCode)
            {
            }

            public void GiveUp(string why)
            {
            }

            public void TerminalResized()
            {
            }

            public void Dispose()
            {
            }
        }
    }
}
