using Scrun.Containers;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Scrun.Containers.Staging;
using Serilog;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>
/// Files another user may have written or placed are never followed or trusted: a link at a
/// temporary name, a state that is not the caller's, a staging directory others may rewrite, an
/// entry of the container's name that belongs to someone else. (Run as root, the tests give such
/// files to uid 65534, the way a stranger's look.)
/// </summary>
public sealed class HostileFilesTests : IDisposable
{
    private const uint Stranger = 65534;
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-hostile-").FullName;

    public void Dispose()
    {
        Mounts.UnmountUnder(_directory);
        FileTree.Remove(_directory);
    }

    [Fact]
    public void A_pid_file_is_written_without_following_a_link_planted_at_a_temporary_name()
    {
        var canary = Path.Combine(_directory, "canary");
        File.WriteAllText(canary, "alive");
        var pidFile = Path.Combine(_directory, "container.pid");
        // The name scrun used to write first, by path, whoever had put something there.
        File.CreateSymbolicLink($"{pidFile}.{Environment.ProcessId}.tmp", canary);

        StateStore.WriteAtomically(pidFile, "4242");

        Assert.Equal("alive", File.ReadAllText(canary));
        Assert.Equal("4242", File.ReadAllText(pidFile));
        Assert.Null(new FileInfo(pidFile).LinkTarget);
        Assert.DoesNotContain(Directory.EnumerateFiles(_directory), f => f.EndsWith(".tmp", StringComparison.Ordinal) && new FileInfo(f).LinkTarget is null);
    }

    [Fact]
    public void A_pid_file_replaces_a_link_placed_at_its_name_and_never_writes_through_it()
    {
        var canary = Path.Combine(_directory, "canary");
        File.WriteAllText(canary, "alive");
        var pidFile = Path.Combine(_directory, "container.pid");
        File.CreateSymbolicLink(pidFile, canary);

        StateStore.WriteAtomically(pidFile, "4242");

        Assert.Equal("alive", File.ReadAllText(canary));
        Assert.Null(new FileInfo(pidFile).LinkTarget);
    }

    [Fact]
    public void A_pid_file_in_a_directory_reached_through_a_link_is_written()
    {
        var real = Directory.CreateDirectory(Path.Combine(_directory, "run")).FullName;
        var linked = Path.Combine(_directory, "var-run");
        File.CreateSymbolicLink(linked, real);

        StateStore.WriteAtomically(Path.Combine(linked, "container.pid"), "4242");

        Assert.Equal("4242", File.ReadAllText(Path.Combine(real, "container.pid")));
    }

    [Theory]
    [InlineData("directory owned by another user")]
    [InlineData("state owned by another user")]
    [InlineData("directory others may write")]
    [InlineData("state others may write")]
    [InlineData("state is a link")]
    public void A_state_the_caller_did_not_write_is_refused(string layout)
    {
        var paths = new ContainerPaths(_directory, ContainerId.Parse("forged"));
        Directory.CreateDirectory(paths.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var state = new ContainerState { Id = "forged", Status = ContainerStatus.Stopped, Bundle = "/", StagedBundle = "/etc", StagedBundleOwned = true };
        StateStore.Write(paths, state);
        Assert.Equal("/etc", StateStore.Read(paths)!.StagedBundle); // the caller's own state is read

        switch (layout)
        {
            case "directory owned by another user":
                File.SetUnixFileMode(paths.Directory, (UnixFileMode)0b111_101_101);
                Chown(paths.Directory, Stranger);
                break;
            case "state owned by another user":
                Chown(paths.StateFile, Stranger);
                break;
            case "directory others may write":
                File.SetUnixFileMode(paths.Directory, (UnixFileMode)0b111_111_111);
                break;
            case "state others may write":
                File.SetUnixFileMode(paths.StateFile, (UnixFileMode)0b110_110_110);
                break;
            default:
                var elsewhere = Path.Combine(_directory, "elsewhere.json");
                File.Move(paths.StateFile, elsewhere);
                File.CreateSymbolicLink(paths.StateFile, elsewhere);
                break;
        }

        var refused = Assert.Throws<ContainerException>(() => StateStore.Read(paths));
        Assert.Contains("forged", refused.Message);
    }

    [Theory]
    [InlineData(0b111_111_111, "others may write in it and it is not sticky (mode 0777)")]
    [InlineData(0b111_111_101, "others may write in it and it is not sticky (mode 0775)")]
    public void A_staging_directory_others_may_rewrite_is_refused(int mode, string reason)
    {
        var staging = Path.Combine(_directory, "staging");
        Directory.CreateDirectory(staging);
        File.SetUnixFileMode(staging, (UnixFileMode)mode);

        var refused = Assert.Throws<ContainerException>(() => StagingDirectory.Check(staging, BuiltInStaging.Variable));
        Assert.Equal($"cannot stage the bundle in {BuiltInStaging.Variable}={staging}: {reason}, so they could replace what scrun stages there; make it 1777 or private", refused.Message);

        File.SetUnixFileMode(staging, (UnixFileMode)mode | UnixFileMode.StickyBit);
        StagingDirectory.Check(staging, BuiltInStaging.Variable);
    }

    [Fact]
    public void A_staging_directory_of_another_user_is_refused()
    {
        var staging = Path.Combine(_directory, "staging");
        Directory.CreateDirectory(staging);
        File.SetUnixFileMode(staging, (UnixFileMode)0b111_101_101 | UnixFileMode.StickyBit);
        Chown(staging, Stranger);

        var refused = Assert.Throws<ContainerException>(() => StagingDirectory.Check(staging, BuiltInStaging.Variable));
        Assert.Contains($"it belongs to uid {Stranger}, who could replace what scrun stages there", refused.Message);
    }

    /// <summary>
    /// In a shared sticky directory the bundle is made exclusively and private: 0700, its
    /// config.json (the container's environment, secrets included) 0600, all of it the caller's.
    /// </summary>
    [Fact]
    public async Task A_bundle_staged_in_a_shared_directory_is_private_to_its_owner()
    {
        var staging = SharedStaging();
        var (builtIn, context) = Staging(staging, "c1");

        var staged = await builtIn.StageInAsync(context, CancellationToken.None);

        Assert.Equal(Path.Combine(staging, "c1"), staged.Bundle);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(staged.Bundle));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(staged.Bundle, "config.json")));
        Assert.Contains("DB_PASSWORD=secret", File.ReadAllText(Path.Combine(staged.Bundle, "config.json")));

        await builtIn.StageOutAsync(context, CancellationToken.None);
        Assert.False(Directory.Exists(staged.Bundle));
    }

    /// <summary>What a stranger placed under the container's name (a link to a directory of theirs) is refused, neither removed nor written through.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_entry_of_the_containers_name_that_another_user_placed_is_refused_and_left(bool link)
    {
        var staging = SharedStaging();
        var trap = Path.Combine(_directory, "strangers");
        Directory.CreateDirectory(trap);
        var entry = Path.Combine(staging, "c1");
        if (link)
        {
            File.CreateSymbolicLink(entry, trap);
            Lchown(entry, Stranger);
        }
        else
        {
            Directory.CreateDirectory(entry);
            Chown(entry, Stranger);
        }
        var (builtIn, context) = Staging(staging, "c1");

        var refused = await Assert.ThrowsAsync<ContainerException>(() => builtIn.StageInAsync(context, CancellationToken.None));

        Assert.Equal($"cannot stage the bundle: {entry} exists and belongs to uid {Stranger}", refused.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(trap));
        Assert.True(link ? new FileInfo(entry).LinkTarget == trap : Directory.Exists(entry));
        await builtIn.StageOutAsync(context, CancellationToken.None); // stage-out leaves it too
        Assert.True(link ? new FileInfo(entry).LinkTarget == trap : Directory.Exists(entry));
    }

    /// <summary>The guard holds the container's directory from the start: renamed (or lazily unmounted) meanwhile, it is still the one waited for.</summary>
    [Fact]
    public async Task The_claim_waited_for_survives_its_state_root_being_renamed()
    {
        var root = Path.Combine(_directory, "root");
        var paths = new ContainerPaths(root, ContainerId.Parse("c1"));
        Directory.CreateDirectory(root);
        var holder = ContainerClaim.TryTake(paths)!;
        var waiting = Task.Run(() => ContainerClaim.WaitFor(paths));
        // The holder's descriptor and the waiter's: the waiter has opened the directory and waits for its lock.
        while (Directory.EnumerateFileSystemEntries("/proc/self/fd").Count(fd => new FileInfo(fd).LinkTarget == paths.Directory) < 2)
        {
            Assert.False(waiting.IsCompleted, "the waiter ended before the claim was let go");
            await Task.Delay(10);
        }
        Directory.Move(root, root + "-gone");
        holder.Dispose();

        using var claim = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(claim);
        Assert.Equal(Path.Combine(root + "-gone", "c1"), new FileInfo($"/proc/self/fd/{claim.Descriptor}").LinkTarget);
    }

    private string SharedStaging()
    {
        var staging = Path.Combine(_directory, "staging");
        Directory.CreateDirectory(staging);
        File.SetUnixFileMode(staging, (UnixFileMode)0b111_111_111 | UnixFileMode.StickyBit);
        return staging;
    }

    private (BuiltInStaging Staging, StagingContext Context) Staging(string stagingRoot, string id)
    {
        var image = Path.Combine(_directory, "image");
        Directory.CreateDirectory(Path.Combine(image, "rootfs"));
        File.WriteAllText(Path.Combine(image, "config.json"), """{"ociVersion":"1.0.2","process":{"args":["true"],"cwd":"/","env":["DB_PASSWORD=secret"]},"root":{"path":"rootfs"}}""");
        var paths = new ContainerPaths(Path.Combine(_directory, "state"), ContainerId.Parse(id));
        Directory.CreateDirectory(paths.Directory);
        var context = new StagingContext(paths.Id, BundleConfig.Load(image), paths, 7, 0, 0, new Dictionary<string, string>());
        return (new BuiltInStaging(stagingRoot, new LoggerConfiguration().CreateLogger()), context);
    }

    private static void Chown(string path, uint uid) => RunChown(uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path);

    private static void Lchown(string path, uint uid) => RunChown("-h", uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path);

    private static void RunChown(params string[] arguments)
    {
        using var chown = System.Diagnostics.Process.Start("chown", arguments)!;
        chown.WaitForExit();
        Assert.Equal(0, chown.ExitCode);
    }
}
