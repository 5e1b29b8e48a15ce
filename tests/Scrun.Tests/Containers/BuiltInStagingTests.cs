using Scrun.Containers;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Scrun.Containers.Staging;
using Serilog;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>Where the built-in staging puts a bundle, who may pass on the way to it, and what it refuses.</summary>
public sealed class BuiltInStagingTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-staging-").FullName;
    private readonly ContainerPaths _paths;

    public BuiltInStagingTests()
    {
        _paths = new ContainerPaths(Path.Combine(_directory, "root"), ContainerId.Parse("c1"));
        Directory.CreateDirectory(_paths.Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(_paths.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(Path.Combine(_directory, "image", "rootfs"));
    }

    public void Dispose()
    {
        Mounts.UnmountUnder(_directory);
        FileTree.Remove(_directory);
    }

    [Fact]
    public void A_container_without_uid_mappings_is_staged_beside_its_state()
    {
        var staging = new BuiltInStaging(null, new LoggerConfiguration().CreateLogger());
        Assert.Equal(_paths.StagedBundle, staging.BundleFor(_paths, Config(mapped: false)));
    }

    /// <summary>
    /// As root (a bind-mounted rootfs), a container whose root is another uid on the node is staged
    /// where that uid may pass: the state root and the staging directory are 0711 (passable, not
    /// listable), the container's own directory stays 0700, and the bundle has an unguessable name.
    /// Without bind mounts (a rootless engine's scrun) the node runs the image itself: nothing changes.
    /// </summary>
    [Fact]
    public async Task A_container_with_uid_mappings_is_staged_where_any_uid_passes_and_none_lists()
    {
        var staging = new BuiltInStaging(null, new LoggerConfiguration().CreateLogger());
        var config = Config(mapped: true);
        var planned = staging.BundleFor(_paths, config);
        if (!Mounts.CanBindMount)
        {
            Assert.Equal(_paths.StagedBundle, planned);
            return;
        }
        Assert.Equal(Path.Combine(_paths.Root, BuiltInStaging.TraversableStaging), Path.GetDirectoryName(planned));
        Assert.Matches(@"^c1\.[0-9a-f]{32}$", Path.GetFileName(planned));
        Assert.NotEqual(planned, new BuiltInStaging(null, new LoggerConfiguration().CreateLogger()).BundleFor(_paths, config));

        var staged = await staging.StageInAsync(new StagingContext(_paths.Id, config, _paths, 7, 0, 0, new Dictionary<string, string>()), CancellationToken.None);
        Assert.Equal(planned, staged.Bundle);
        const UnixFileMode passable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        Assert.Equal(passable, File.GetUnixFileMode(_paths.Root));
        Assert.Equal(passable, File.GetUnixFileMode(Path.GetDirectoryName(planned)!));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_paths.Directory));
        Assert.True(File.Exists(Path.Combine(planned, "config.json")));

        await staging.StageOutAsync(new StagingContext(_paths.Id, config, _paths, 7, 0, 0, new Dictionary<string, string>()), CancellationToken.None);
        Assert.False(Directory.Exists(planned));
    }

    /// <summary>A root filesystem no compute node can see is refused with what to do; a build step's line names its own ways out.</summary>
    [Fact]
    public void The_refusal_of_an_unseen_root_filesystem_says_what_to_do()
    {
        var bundle = Path.Combine(_directory, "buildah82373899");
        Directory.CreateDirectory(Path.Combine(bundle, "mnt", "rootfs"));
        File.WriteAllText(Path.Combine(bundle, "config.json"), """{"ociVersion":"1.0.2-dev","process":{"args":["/bin/sh","-c","echo built > /f"],"cwd":"/"},"root":{"path":"mnt/rootfs"}}""");
        var config = BundleConfig.Load(bundle);

        Assert.Equal(
            $"the root filesystem of this podman build RUN step, {bundle}/mnt/rootfs, is a mount only the engine's namespace has, which no compute node can see: use vfs storage, set SCRUN_BUILD_RUNTIME to run build steps on this node, or build with --runtime runc",
            BuiltInStaging.UnseenRoot(config, ContainerId.Parse("buildah-buildah82373899")));
        Assert.Equal(
            $"the container's root filesystem {bundle}/mnt/rootfs is a mount only the engine's namespace has, which no compute node can see: use vfs storage, or a scrun.lua that copies it",
            BuiltInStaging.UnseenRoot(config, ContainerId.Parse("c1")));
    }

    private BundleConfig Config(bool mapped)
    {
        var bundle = Path.Combine(_directory, "image");
        var linux = mapped ? ""","linux":{"uidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":200000,"size":65536}]}""" : "";
        File.WriteAllText(Path.Combine(bundle, "config.json"), $$"""{"ociVersion":"1.0.2","process":{"args":["true"],"cwd":"/"},"root":{"path":"rootfs"}{{linux}}}""");
        return BundleConfig.Load(bundle);
    }
}
