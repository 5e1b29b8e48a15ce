using Scrun.Containers.Interop;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>Paths of a rootless engine's mount namespace, as slurmstepd on the host must name them.</summary>
public sealed class HostPathsTests
{
    // The host: ext4 on /, the bed's staging directory bound on itself and into a chroot.
    private static readonly IReadOnlyList<HostPaths.Mount> s_host = HostPaths.Parse("""
        26 1 254:0 / / rw,relatime - ext4 /dev/vda rw
        29 24 0:26 / /dev/shm rw,relatime - tmpfs tmpfs rw
        60 26 254:0 /tmp/tb/staging /tmp/tb/chroots/24.11/root/tmp/tb/staging rw,relatime - ext4 /dev/vda rw
        61 26 254:0 /tmp/tb/staging /tmp/tb/staging rw,relatime shared:5 - ext4 /dev/vda rw
        62 26 254:0 /tmp/tb/with\040space /mnt/a\040b rw,relatime - ext4 /dev/vda rw
        """);

    // rootlesskit: a tmpfs over /run whose entries link into a hidden bind of the real /run, and
    // containerd's bind of a container's vfs layer on its bundle's rootfs.
    private static readonly IReadOnlyList<HostPaths.Mount> s_rootlesskit = HostPaths.Parse("""
        687 686 254:0 / / rw,relatime - ext4 /dev/vda rw
        700 687 0:90 / /run rw,relatime - tmpfs tmpfs rw
        701 700 254:0 /run /run/.ro1312422986 rw,relatime - ext4 /dev/vda rw
        702 701 254:0 /home/u/.local/share/docker/vfs/dir/abc /run/.ro1312422986/user/1001/docker/containerd/daemon/moby/abc/rootfs rw - ext4 /dev/vda rw
        703 687 0:91 / /tmp/private rw - tmpfs tmpfs rw
        """);

    [Theory]
    [InlineData("/run/.ro1312422986/user/1001/scrun/c1/bundle", "/run/user/1001/scrun/c1/bundle")] // the state directory behind the link
    [InlineData("/run/.ro1312422986/user/1001/docker/containerd/daemon/moby/abc/rootfs", "/home/u/.local/share/docker/vfs/dir/abc")] // containerd's rootfs mount
    [InlineData("/run/.ro1312422986/user/1001/docker/containerd/daemon/moby/abc/rootfs/etc", "/home/u/.local/share/docker/vfs/dir/abc/etc")]
    [InlineData("/home/u/.local/share/containers/storage/vfs/dir/x", "/home/u/.local/share/containers/storage/vfs/dir/x")] // the same name on both sides
    [InlineData("/tmp/tb/staging/c1", "/tmp/tb/staging/c1")] // shown twice on the host: its own name wins over the chroot's
    [InlineData("/in\tside/x", "/mnt/a b/x")] // mountinfo's octal escapes
    [InlineData("/", "/")]
    public void A_path_is_named_as_the_host_mounts_its_file_system(string inside, string onHost) =>
        Assert.Equal(onHost, HostPaths.Translate(inside, s_rootlesskit.Concat(HostPaths.Parse("800 687 254:0 /tmp/tb/with\\040space /in\\011side rw - ext4 /dev/vda rw")).ToList(), s_host));

    [Fact]
    public void A_file_system_the_host_does_not_mount_has_no_name_there() =>
        Assert.Null(HostPaths.Translate("/tmp/private/rootfs", s_rootlesskit, s_host));

    [Fact]
    public void The_most_direct_mount_names_a_directory_when_the_host_lacks_its_own_name()
    {
        var own = HostPaths.Parse("1 0 254:0 /tmp/tb/staging /staging rw - ext4 /dev/vda rw");
        Assert.Equal("/tmp/tb/staging/c1", HostPaths.Translate("/staging/c1", own, s_host));
    }

    // The bed's host as it is: the vfs storage of root's and the rootless user's engines on /,
    // the users' homes bound into the newer clusters' chroots.
    private const string BedHost = """
        26 1 254:0 / / rw,relatime - ext4 /dev/vda rw
        95 26 254:0 /tmp/tb/chroots/24.11/root /tmp/tb/chroots/24.11/root rw,relatime - ext4 /dev/vda rw
        111 95 0:42 / /tmp/tb/chroots/24.11/root/run rw,relatime - tmpfs tmpfs rw
        129 95 254:0 /tmp/tb/home /tmp/tb/chroots/24.11/root/tmp/tb/home rw,relatime - ext4 /dev/vda rw
        133 112 254:0 /tmp/tb/home /tmp/tb/chroots/26.05/root/tmp/tb/home rw,relatime - ext4 /dev/vda rw
        229 26 0:55 / /var/lib/containers/storage/overlay/abc/merged rw,relatime - overlay overlay rw,lowerdir=/var/lib/containers/storage/overlay/l/X
        """;

    /// <summary>
    /// The mount namespace Buildah runs the runtime of a RUN step in (a private copy of the
    /// host's, new mount ids), with the step's root filesystem bound on its bundle's mnt/rootfs.
    /// </summary>
    private static string BuildahNamespace(string rootfsMount) => $"""
        215 214 254:0 / / rw,relatime - ext4 /dev/vda rw
        255 215 254:0 /tmp/tb/chroots/24.11/root /tmp/tb/chroots/24.11/root rw,relatime - ext4 /dev/vda rw
        292 255 254:0 /tmp/tb/home /tmp/tb/chroots/24.11/root/tmp/tb/home rw,relatime - ext4 /dev/vda rw
        {rootfsMount}
        """;

    [Theory]
    [InlineData(false, "314 313 254:0 /tmp/tb/containers/storage/vfs/dir/abc /var/tmp/buildah123/mnt/rootfs rw - ext4 /dev/vda rw", "/tmp/tb/containers/storage/vfs/dir/abc")] // root's vfs storage
    [InlineData(false, "356 355 0:55 / /var/tmp/buildah123/mnt/rootfs rw - overlay overlay rw", "/var/lib/containers/storage/overlay/abc/merged")] // root's overlay, which Podman mounted on the host
    [InlineData(true, "348 347 254:0 /tmp/tb/home/u/.local/share/containers/storage/vfs/dir/abc /var/tmp/buildah123/mnt/rootfs rw - ext4 /dev/vda rw", "/tmp/tb/home/u/.local/share/containers/storage/vfs/dir/abc")] // rootless vfs: the home itself, not a chroot's bind of it
    public void A_build_steps_root_filesystem_is_named_as_the_host_mounts_it(bool inUserNamespace, string rootfsMount, string onHost) =>
        Assert.Equal(onHost, HostPaths.Name("/var/tmp/buildah123/mnt/rootfs", inUserNamespace, BuildahNamespace(rootfsMount), BedHost));

    [Fact]
    public void A_build_steps_root_filesystem_mounted_in_its_namespace_alone_has_no_name_on_the_host() =>
        Assert.Null(HostPaths.Name("/var/tmp/buildah123/mnt/rootfs", true,
            BuildahNamespace("356 355 0:77 / /var/tmp/buildah123/mnt/rootfs rw - fuse.fuse-overlayfs fuse-overlayfs rw"), BedHost));

    [Fact]
    public void In_the_hosts_own_mount_namespace_a_path_is_itself() =>
        Assert.Equal("/var/tmp/buildah123/mnt/rootfs", HostPaths.Name("/var/tmp/buildah123/mnt/rootfs", false, BedHost, BedHost));

    [Fact]
    public void A_name_another_file_system_hides_on_the_host_is_not_given()
    {
        // /data/scratch is another file system on the host: /'s /data/scratch/x is not the directory.
        var host = HostPaths.Parse("""
            26 1 254:0 / / rw - ext4 /dev/vda rw
            40 26 254:1 / /data/scratch rw - xfs /dev/vdb rw
            41 26 254:0 /data/scratch /srv/old-scratch rw - ext4 /dev/vda rw
            """);
        var own = HostPaths.Parse("7 6 254:0 /data/scratch/x /bundle/rootfs rw - ext4 /dev/vda rw");
        Assert.Equal("/srv/old-scratch/x", HostPaths.Translate("/bundle/rootfs", own, host));
    }

    [Fact]
    public void Outside_any_user_namespace_a_path_is_only_resolved()
    {
        var directory = Directory.CreateTempSubdirectory("scrun-hostpaths-").FullName;
        try
        {
            Assert.Equal(directory + "/not-yet", HostPaths.AsHostSees(Path.Combine(directory, "not-yet")));
        }
        finally
        {
            Directory.Delete(directory);
        }
    }
}
