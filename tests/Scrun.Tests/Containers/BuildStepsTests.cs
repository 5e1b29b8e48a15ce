using Scrun.Containers;
using Scrun.Containers.Interop;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>The containers of podman build's RUN steps, as Buildah 1.28 names them, and what a site may do with them.</summary>
public sealed class BuildStepsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-build-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("buildah-buildah82373899", true)]
    [InlineData("buildah-buildah1", true)]
    [InlineData("buildah-buildah", false)]
    [InlineData("buildah-buildahx1", false)]
    [InlineData("buildah-82373899", false)]
    [InlineData("2627350ed539a68bc7947a4b11aac689095321248ef211a94b7b93d8c6480dba", false)]
    public void A_build_steps_id_is_buildah_and_its_bundles_name(string id, bool isStep) =>
        Assert.Equal(isStep, BuildSteps.IsBuildStepId(ContainerId.Parse(id)));

    [Theory]
    [InlineData("/var/tmp/buildah82373899", true)]
    [InlineData("/var/tmp/buildah82373899/", true)]
    [InlineData("/tmp/buildah82373899", true)] // TMPDIR is the caller's
    [InlineData("/var/tmp/buildah123", false)] // another step's bundle
    [InlineData("/var/lib/containers/storage/vfs-containers/x/userdata", false)]
    public void Create_knows_a_build_step_by_its_id_and_bundle(string bundle, bool isStep) =>
        Assert.Equal(isStep, BuildSteps.IsBuildStep(ContainerId.Parse("buildah-buildah82373899"), bundle));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Without_the_setting_no_step_runs_here(string? value) => Assert.Null(BuildSteps.LocalRuntime(value, "/usr/local/bin/scrun"));

    [Fact]
    public void The_setting_names_a_runtime_by_its_absolute_path() =>
        Assert.Equal("/usr/sbin/runc", BuildSteps.LocalRuntime("/usr/sbin/runc", "/usr/local/bin/scrun"));

    [Fact]
    public void A_runtime_named_without_its_path_is_refused_in_one_line()
    {
        var refusal = Assert.Throws<ContainerException>(() => BuildSteps.LocalRuntime("runc", "/usr/local/bin/scrun"));
        Assert.Equal("SCRUN_BUILD_RUNTIME=runc is not valid: expected the absolute path of a runtime such as /usr/sbin/runc", refusal.Message);
    }

    /// <summary>scrun as its own build runtime would hand every step back to itself: refused, also through a link.</summary>
    [Fact]
    public void Scrun_itself_is_refused_as_the_build_runtime()
    {
        var scrun = Path.Combine(_directory, "scrun");
        File.WriteAllText(scrun, "");
        var link = Path.Combine(_directory, "runtime");
        File.CreateSymbolicLink(link, scrun);
        var refusal = Assert.Throws<ContainerException>(() => BuildSteps.LocalRuntime(link, LibC.RealPath(scrun)));
        Assert.StartsWith($"SCRUN_BUILD_RUNTIME={link} is not valid: it is scrun itself", refusal.Message);
    }
}
