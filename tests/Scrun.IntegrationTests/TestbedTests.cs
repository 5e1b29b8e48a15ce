using Scrun.IntegrationTests.Infrastructure;
using Xunit;

namespace Scrun.IntegrationTests;

/// <summary>
/// The floor every end-to-end test stands on: real Slurm, a real runc on the compute side and
/// the container engines, all on this machine. These test the bed, not scrun.
/// </summary>
[Collection(TestbedCollection.Name)]
public class TestbedTests(TestbedFixture bed)
{
    [Fact]
    public void Sinfo_shows_the_node_idle()
    {
        // A container test run just before may still be finishing its job.
        var sinfo = bed.Run("sinfo", "-h", "-N", "-o", "%N %t");
        for (var deadline = DateTime.UtcNow.AddSeconds(30); sinfo.Stdout.Trim() != "n1 idle" && DateTime.UtcNow < deadline; Thread.Sleep(200))
        {
            sinfo = bed.Run("sinfo", "-h", "-N", "-o", "%N %t");
        }
        Assert.True(sinfo.ExitCode == 0, sinfo.ToString());
        Assert.Equal("n1 idle", sinfo.Stdout.Trim());
    }

    [Fact]
    public void Srun_container_runs_the_busybox_bundle_through_runc()
    {
        var srun = bed.Run("srun", $"--container={bed.Bundle}", "cat", "/etc/os-release");
        Assert.True(srun.ExitCode == 0, srun.ToString());
        Assert.Contains("NAME=\"TestbedBusybox\"", srun.Stdout);
    }

    [Fact]
    public void Srun_container_passes_stdin_and_the_exit_code_back()
    {
        var srun = bed.Run("srun", [$"--container={bed.Bundle}", "sh", "-c", "read line; echo got:$line; exit 3"], stdin: "ping\n");
        Assert.Equal(3, srun.ExitCode);
        Assert.Contains("got:ping", srun.Stdout);
    }

    [Fact]
    public void Podman_runs_the_imported_image_with_its_local_runtime()
    {
        var podman = bed.Run("podman", "run", "--rm", bed.Image, "echo", "podman-says-hello");
        Assert.True(podman.ExitCode == 0, podman.ToString());
        Assert.Equal("podman-says-hello", podman.Stdout.Trim());
    }

    [Fact]
    public void Docker_runs_the_imported_image_with_its_local_runtime()
    {
        var docker = bed.Run(bed.DockerCli, "run", "--rm", "--net=none", bed.Image, "echo", "docker-says-hello");
        Assert.True(docker.ExitCode == 0, docker.ToString());
        Assert.Equal("docker-says-hello", docker.Stdout.Trim());
    }

    [Fact]
    public void A_second_bring_up_reuses_the_healthy_bed()
    {
        var again = ProcessRunner.Run(Repository.TestbedScript, ["up", "--docker"]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("reusing", again.Stdout + again.Stderr);
    }
}
