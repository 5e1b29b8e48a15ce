using Scrun.Containers;
using Scrun.Containers.Interop;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>
/// Removing what scrun made never reaches what it only points at: a bind-mounted root
/// filesystem, a symbolic link's target, a tree reached through a linked parent (as root, the
/// way the anchor runs under rootful engines).
/// </summary>
public sealed class FileTreeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-filetree-").FullName;

    public void Dispose()
    {
        Mounts.UnmountUnder(_directory);
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>A user's image: a root filesystem with a canary file.</summary>
    private string Image()
    {
        var image = Path.Combine(_directory, "image");
        Directory.CreateDirectory(Path.Combine(image, "etc"));
        File.WriteAllText(Path.Combine(image, "etc", "canary"), "alive");
        return image;
    }

    private void AssertIntact(string image) => Assert.Equal("alive", File.ReadAllText(Path.Combine(image, "etc", "canary")));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_bind_mounted_rootfs_is_unmounted_not_emptied(bool reachedThroughALink)
    {
        var image = Image();
        var real = Path.Combine(_directory, "state");
        var staged = Path.Combine(real, "c1", "bundle", "rootfs");
        Directory.CreateDirectory(staged);
        Mounts.Bind(image, staged);
        var root = real;
        if (reachedThroughALink)
        {
            root = Path.Combine(_directory, "link");
            File.CreateSymbolicLink(root, real); // /var/run -> /run
        }

        FileTree.Remove(Path.Combine(root, "c1"));

        AssertIntact(image);
        Assert.False(Directory.Exists(Path.Combine(real, "c1")));
        Assert.Empty(Mounts.Under(real));
    }

    [Fact]
    public void A_symbolic_link_is_removed_itself_never_its_target()
    {
        var image = Image();
        var bundle = Path.Combine(_directory, "bundle");
        Directory.CreateDirectory(bundle);
        File.CreateSymbolicLink(Path.Combine(bundle, "rootfs"), image);
        File.CreateSymbolicLink(Path.Combine(bundle, "config.json"), Path.Combine(image, "etc", "canary"));

        FileTree.Remove(bundle);

        AssertIntact(image);
        Assert.False(Directory.Exists(bundle));
    }

    [Fact]
    public void A_link_given_as_the_tree_is_removed_as_a_link()
    {
        var image = Image();
        var link = Path.Combine(_directory, "c1");
        File.CreateSymbolicLink(link, image);

        FileTree.Remove(link);

        AssertIntact(image);
        Assert.False(File.Exists(link) || Directory.Exists(link));
    }

    [Fact]
    public void Nested_trees_and_files_go_and_a_missing_path_is_nothing_to_do()
    {
        var tree = Path.Combine(_directory, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "a", "b", "c"));
        File.WriteAllText(Path.Combine(tree, "a", "b", "c", "f"), "x");
        File.WriteAllText(Path.Combine(tree, "g"), "y");

        FileTree.Remove(tree);
        FileTree.Remove(tree);
        FileTree.Remove(Path.Combine(_directory, "never", "was"));

        Assert.False(Directory.Exists(tree));
    }

    [Fact]
    public void Empty_keeps_the_directory_and_spares_a_mounted_image()
    {
        var image = Image();
        var container = Path.Combine(_directory, "c1");
        var staged = Path.Combine(container, "bundle", "rootfs");
        Directory.CreateDirectory(staged);
        Mounts.Bind(image, staged);
        File.WriteAllText(Path.Combine(container, "state.json"), "{}");

        FileTree.Empty(container);

        AssertIntact(image);
        Assert.True(Directory.Exists(container));
        Assert.Empty(Directory.EnumerateFileSystemEntries(container));
    }

    [Fact]
    public void Paths_resolve_through_links_even_where_they_do_not_exist_yet()
    {
        var real = Path.Combine(_directory, "run");
        Directory.CreateDirectory(real);
        var link = Path.Combine(_directory, "var-run");
        File.CreateSymbolicLink(link, real);

        Assert.Equal(Path.Combine(real, "scrun", "x"), ContainerPaths.Resolve(Path.Combine(link, "scrun", "x")));
        Assert.Equal(real, ContainerPaths.Resolve(link + "/"));
        Assert.Equal(Path.Combine(real, "scrun"), new ContainerPaths(Path.Combine(link, "scrun"), ContainerId.Parse("c")).Root);
    }
}
