using System.Text.Json.Nodes;
using Scrun.Containers;
using Scrun.Containers.Oci;
using Scrun.Containers.Staging;
using Serilog.Core;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>The engine's per-container files travel in the staged bundle; a user's volumes do not.</summary>
public sealed class EngineFilesTests : IDisposable
{
    private static readonly ContainerId s_id = ContainerId.Parse("fcd330b58d8d");
    private readonly string _root = Directory.CreateTempSubdirectory("scrun-engine-files-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Podmans_and_dockers_files_are_copied_shm_becomes_a_tmpfs_and_volumes_stay()
    {
        var podmanRun = Directory.CreateDirectory(Path.Combine(_root, "run/overlay-containers", s_id.Value, "userdata")).FullName;
        File.WriteAllText(Path.Combine(podmanRun, "hosts"), "127.0.0.1 c\n");
        var shm = Directory.CreateDirectory(Path.Combine(_root, "storage/overlay-containers", s_id.Value, "userdata/shm")).FullName;
        var dockerStyle = Directory.CreateDirectory(Path.Combine(_root, "docker/containers", s_id.Value)).FullName;
        File.WriteAllText(Path.Combine(dockerStyle, "resolv.conf"), "nameserver 10.0.0.1\n");
        var secrets = Directory.CreateDirectory(Path.Combine(podmanRun, "run/secrets/sub")).FullName;
        File.WriteAllText(Path.Combine(secrets, "token"), "s3cret");
        File.CreateSymbolicLink(Path.Combine(podmanRun, "run/secrets/link"), "sub/token");
        var volume = Directory.CreateDirectory(Path.Combine(_root, "scratch")).FullName;
        var bundle = Directory.CreateDirectory(Path.Combine(_root, "submitted")).FullName;
        File.WriteAllText(Path.Combine(bundle, "config.json"), $$"""
            {"process":{"args":["true"]},"root":{"path":"/image"},"mounts":[
              {"destination":"/proc","type":"proc","source":"proc"},
              {"destination":"/etc/hosts","type":"bind","source":"{{podmanRun}}/hosts","options":["bind","rprivate"]},
              {"destination":"/dev/shm","type":"bind","source":"{{shm}}","options":["bind","nosuid"]},
              {"destination":"/etc/resolv.conf","source":"{{dockerStyle}}/resolv.conf","options":["rbind","ro"]},
              {"destination":"/run/secrets","type":"bind","source":"{{podmanRun}}/run/secrets"},
              {"destination":"/scratch","type":"bind","source":"{{volume}}","options":["rbind"]},
              {"destination":"/gone","type":"bind","source":"{{dockerStyle}}/never-made"}]}
            """);
        var config = BundleConfig.Load(bundle);
        var staged = Directory.CreateDirectory(Path.Combine(_root, "staged")).FullName;

        var changes = EngineFiles.Stage(config, s_id, staged, staged, Logger.None);
        var json = JsonNode.Parse(config.ToStagedJson(Path.Combine(staged, "rootfs"), changes))!;
        var mounts = json["mounts"]!.AsArray().Select(m => (Destination: (string)m!["destination"]!, Type: (string?)m["type"], Source: (string)m["source"]!)).ToList();

        var copies = Path.Combine(staged, EngineFiles.Directory);
        Assert.Equal(("/etc/hosts", "bind", Path.Combine(copies, "1-hosts")), mounts[1]);
        Assert.Equal("127.0.0.1 c\n", File.ReadAllText(mounts[1].Source));
        Assert.Equal(("/dev/shm", "tmpfs", "tmpfs"), mounts[2]);
        Assert.Equal("nameserver 10.0.0.1\n", File.ReadAllText(mounts[3].Source));
        Assert.Equal("s3cret", File.ReadAllText(Path.Combine(mounts[4].Source, "sub/token")));
        Assert.Equal("sub/token", new FileInfo(Path.Combine(mounts[4].Source, "link")).LinkTarget);
        Assert.Equal(volume, mounts[5].Source); // the user's volume: a shared file system, not the engine's
        Assert.EndsWith("never-made", mounts[6].Source); // nothing to copy: runc names it
        Assert.Equal(("/proc", "proc", "proc"), mounts[0]);
        Assert.Equal(Path.Combine(staged, "rootfs"), (string)json["root"]!["path"]!);

        // In a rootless engine's namespace the node names the staged bundle otherwise (HostPaths).
        var elsewhere = Directory.CreateDirectory(Path.Combine(_root, "staged-in-a-namespace")).FullName;
        var renamed = EngineFiles.Stage(config, s_id, elsewhere, "/as/the/node/names/it", Logger.None);
        Assert.Equal($"/as/the/node/names/it/{EngineFiles.Directory}/1-hosts", renamed.MovedSources[1]);
        Assert.Equal("127.0.0.1 c\n", File.ReadAllText(Path.Combine(elsewhere, EngineFiles.Directory, "1-hosts")));
    }

    [Fact]
    public void A_config_without_mounts_changes_nothing()
    {
        var bundle = Directory.CreateDirectory(Path.Combine(_root, "plain")).FullName;
        File.WriteAllText(Path.Combine(bundle, "config.json"), """{"process":{"args":["true"]},"root":{"path":"/image"}}""");
        var config = BundleConfig.Load(bundle);
        var changes = EngineFiles.Stage(config, s_id, Path.Combine(_root, "staged"), Path.Combine(_root, "staged"), Logger.None);
        Assert.Empty(changes.MovedSources);
        Assert.Empty(changes.MadeTmpfs);
        Assert.False(Directory.Exists(Path.Combine(_root, "staged")));
    }
}
