using System.Text.Json.Nodes;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>A rootless engine calls scrun as uid 0 of its user namespace: the node must run the container as the user.</summary>
public sealed class UserNamespaceTests : IDisposable
{
    private readonly string _bundle = Directory.CreateTempSubdirectory("scrun-userns-").FullName;

    public void Dispose() => Directory.Delete(_bundle, recursive: true);

    [Theory]
    [InlineData("         0       1001          1\n", "         0       1001          1\n", 7u, 0u, null, null)] // a uid the map does not hold
    [InlineData("         0       1001          1\n         1     100000      65536\n", "         0       1001          1\n         1     100000      65536\n", 0u, 0u, 1001u, 1001u)] // rootless Podman
    [InlineData("         0       1001          1\n         1     100000      65536\n", "         0       1002          1\n", 5u, 0u, 100004u, 1002u)]
    public void The_ids_outside_are_read_from_the_maps(string uidMap, string gidMap, uint uid, uint gid, uint? outsideUid, uint? outsideGid)
    {
        var outside = UserNamespace.OutsideIds(uidMap, gidMap, uid, gid);
        Assert.Equal(outsideUid is null ? null : (outsideUid.Value, outsideGid!.Value), outside);
    }

    [Fact]
    public void The_staged_config_maps_the_process_user_to_the_owner_and_drops_what_one_id_cannot_hold()
    {
        File.WriteAllText(Path.Combine(_bundle, "config.json"), """
            {"process":{"args":["sh"],"user":{"uid":0,"gid":0,"additionalGids":[10]}},"root":{"path":"/r"},
             "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}],"cgroupsPath":"/libpod/x","sysctl":{"net.ipv4.ping_group_range":"0 0"}},
             "mounts":[{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid"]},
                       {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","newinstance","gid=5","mode=620"]}]}
            """);
        var staged = JsonNode.Parse(BundleConfig.Load(_bundle).ToStagedJson("/staged/rootfs", runAsOnNode: (1001, 1002)))!;

        var linux = staged["linux"]!;
        Assert.Contains(linux["namespaces"]!.AsArray(), n => (string)n!["type"]! == "user");
        Assert.Equal("""[{"containerID":0,"hostID":1001,"size":1}]""", linux["uidMappings"]!.ToJsonString());
        Assert.Equal("""[{"containerID":0,"hostID":1002,"size":1}]""", linux["gidMappings"]!.ToJsonString());
        Assert.Null(linux["cgroupsPath"]);
        Assert.Null(linux["sysctl"]!["net.ipv4.ping_group_range"]);
        Assert.Null(staged["process"]!["user"]!["additionalGids"]);
        Assert.Equal(("bind", "/sys"), ((string)staged["mounts"]![0]!["type"]!, (string)staged["mounts"]![0]!["source"]!)); // no network namespace of its own
        Assert.Equal("""["nosuid","newinstance","mode=620"]""", staged["mounts"]![1]!["options"]!.ToJsonString());
    }

    [Fact]
    public void Without_a_user_namespace_the_staged_config_keeps_its_ids()
    {
        File.WriteAllText(Path.Combine(_bundle, "config.json"), """{"process":{"args":["sh"]},"root":{"path":"/r"},"linux":{"cgroupsPath":"/x"}}""");
        var staged = JsonNode.Parse(BundleConfig.Load(_bundle).ToStagedJson("/staged/rootfs"))!;
        Assert.Null(staged["linux"]!["uidMappings"]);
        Assert.Equal("/x", (string)staged["linux"]!["cgroupsPath"]!);
    }
}
