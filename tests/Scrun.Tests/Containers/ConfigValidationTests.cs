using System.Text.Json.Nodes;
using Scrun.Containers.Interop;
using Scrun.Containers.Oci;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>config.json mistakes that would otherwise fail silently inside the job are refused at create, in runc's words where it has them.</summary>
public sealed class ConfigValidationTests
{
    private const string Path = "/b/config.json";

    [Theory]
    [InlineData("""{"process":{"rlimits":[{"type":"RLIMIT_BOGUS","hard":1,"soft":1}]}}""", "wrong rlimit value: RLIMIT_BOGUS")] // runc's words
    [InlineData("""{"process":{"rlimits":[{"hard":1,"soft":1}]}}""", """wrong rlimit value: {"hard":1,"soft":1}""")]
    [InlineData("""{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":2}]}}""", "/b/config.json: process.rlimits: RLIMIT_NOFILE's soft limit 2 is above its hard limit 1")]
    [InlineData("""{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":-1,"soft":1}]}}""", "/b/config.json: process.rlimits: RLIMIT_NOFILE's hard limit must be a number from 0 to 2^64-1")]
    [InlineData("""{"process":{"rlimits":[{"type":"RLIMIT_CORE","hard":1,"soft":1},{"type":"RLIMIT_CORE","hard":2,"soft":2}]}}""", "/b/config.json: process.rlimits: RLIMIT_CORE is given twice")]
    [InlineData("""{"process":{"rlimits":{}}}""", "/b/config.json: process.rlimits must be an array")]
    [InlineData("""{"linux":{"namespaces":[{"type":"bogus"}]}}""", """namespace {"bogus" ""} does not exist""")] // runc's words
    [InlineData("""{"linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}}""", """malformed spec file: duplicated ns "pid" """)]
    [InlineData("""{"linux":{"namespaces":"pid"}}""", "/b/config.json: linux.namespaces must be an array")]
    [InlineData("""{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_FOO"]}}}""", """unknown capability "CAP_FOO" """)] // runc 1.0.0-rc93's words
    [InlineData("""{"process":{"capabilities":{"ambient":["cap_kill"]}}}""", """unknown capability "cap_kill" """)]
    [InlineData("""{"process":{"capabilities":["CAP_CHOWN"]}}""", "/b/config.json: process.capabilities must be an object")]
    [InlineData("""{"process":{"capabilities":{"effective":"CAP_CHOWN"}}}""", "/b/config.json: process.capabilities.effective must be an array")]
    [InlineData("""{"process":{"capabilities":{"permitted":["CAP_CHOWN",7]}}}""", "/b/config.json: process.capabilities.permitted[1] must be a string")]
    [InlineData("""{"mounts":{"destination":"/tmp"}}""", "/b/config.json: mounts must be an array")]
    [InlineData("""{"mounts":["/tmp"]}""", "/b/config.json: mounts[0] must be an object")]
    [InlineData("""{"mounts":[{"destination":"/tmp"},{"type":"tmpfs","source":"tmpfs"}]}""", "/b/config.json: mounts[1].destination is missing")]
    [InlineData("""{"mounts":[{"destination":["/tmp"]}]}""", "/b/config.json: mounts[0].destination must be a string")]
    [InlineData("""{"mounts":[{"destination":"/tmp","source":{}}]}""", "/b/config.json: mounts[0].source must be a string")]
    [InlineData("""{"mounts":[{"destination":"/tmp","type":1}]}""", "/b/config.json: mounts[0].type must be a string")]
    [InlineData("""{"mounts":[{"destination":"/tmp","options":"ro"}]}""", "/b/config.json: mounts[0].options must be an array")]
    [InlineData("""{"mounts":[{"destination":"/tmp","options":["ro",true]}]}""", "/b/config.json: mounts[0].options[1] must be a string")]
    [InlineData("""{"mounts":[{"destination":"/tmp","uidMappings":{}}]}""", "/b/config.json: mounts[0].uidMappings must be an array")]
    [InlineData("""{"mounts":[{"destination":"/tmp","gidMappings":"0:0:1"}]}""", "/b/config.json: mounts[0].gidMappings must be an array")]
    [InlineData("""{"mounts":[{"destination":"/tmp\u0000x","type":"tmpfs"}]}""", """invalid mount {"destination":"/tmp\u0000x","type":"tmpfs"}: mount field contains null byte""")] // runc's words
    public void A_mistake_is_refused_with_one_line(string json, string message) =>
        Assert.Equal(message.TrimEnd(), Assert.Throws<BundleException>(() => ConfigValidation.Validate(JsonNode.Parse(json)!.AsObject(), Path, _ => null)).Message);

    [Fact]
    public void What_runc_and_the_spec_accept_passes()
    {
        var config = JsonNode.Parse("""
            {"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":1024},{"type":"RLIMIT_NPROC","hard":5,"soft":5}]},
             "linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/on/the/node/only"},{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"user"},{"type":"cgroup"},{"type":"time"}]}}
            """)!.AsObject();
        ConfigValidation.Validate(config, Path, _ => throw new InvalidOperationException("a path the login node lacks is not probed"));
    }

    [Fact]
    public void Every_capability_of_the_kernel_passes()
    {
        string[] all =
        [
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
            "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
            "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
            "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
            "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
            "CAP_CHECKPOINT_RESTORE",
        ];
        var sets = new JsonObject();
        foreach (var set in new[] { "bounding", "effective", "inheritable", "permitted", "ambient" })
        {
            sets[set] = new JsonArray(all.Select(name => (JsonNode)name).ToArray());
        }
        ConfigValidation.Validate(new JsonObject { ["process"] = new JsonObject { ["capabilities"] = sets } }, Path, _ => null);
    }

    [Fact]
    public void What_Podman_Docker_and_Slurm_write_passes()
    {
        var config = JsonNode.Parse("""
            {"process":{"capabilities":{
               "bounding":["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"],
               "effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"inheritable":[],"ambient":["CAP_KILL"]}},
             "mounts":[
               {"destination":"/proc","type":"proc","source":"proc"},
               {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
               {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
               {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=67108864","uid=0"]},
               {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["rprivate","nosuid","noexec","nodev","relatime","ro"]},
               {"destination":"/etc/hosts","type":"bind","source":"/var/lib/hosts","options":["rbind","rprivate"]},
               {"destination":"/data","type":"bind","source":"/srv/data","options":["bind","rro","rnosymfollow","idmap"],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}]},
               {"destination":"/tmp","type":"tmpfs","options":["tmpcopyup","nosymfollow","lazytime"]}]}
            """)!.AsObject();
        ConfigValidation.Validate(config, Path, _ => null);
    }

    [Fact]
    public void A_relative_mount_destination_passes_as_the_spec_and_runc_allow() =>
        ConfigValidation.Validate(JsonNode.Parse("""{"mounts":[{"destination":"data","type":"tmpfs"}]}""")!.AsObject(), Path, _ => null);

    [Fact]
    public void A_namespace_path_of_another_type_is_refused()
    {
        var config = JsonNode.Parse("""{"linux":{"namespaces":[{"type":"network","path":"/proc/self/ns/uts"}]}}""")!.AsObject();
        var refusal = Assert.Throws<BundleException>(() => ConfigValidation.Validate(config, Path, NamespaceFile.TypeOf));
        Assert.Equal("/b/config.json: linux.namespaces: the network namespace's path /proc/self/ns/uts is a uts namespace", refusal.Message);
    }

    [Fact]
    public void A_namespace_path_that_is_no_namespace_is_refused()
    {
        var config = JsonNode.Parse("""{"linux":{"namespaces":[{"type":"network","path":"/proc/self/status"}]}}""")!.AsObject();
        var refusal = Assert.Throws<BundleException>(() => ConfigValidation.Validate(config, Path, NamespaceFile.TypeOf));
        Assert.Equal("/b/config.json: linux.namespaces: the network namespace's path /proc/self/status is not a namespace", refusal.Message);
    }

    [Fact]
    public void A_namespace_path_of_the_right_type_passes() =>
        ConfigValidation.Validate(JsonNode.Parse("""{"linux":{"namespaces":[{"type":"network","path":"/proc/self/ns/net"}]}}""")!.AsObject(), Path, NamespaceFile.TypeOf);
}
