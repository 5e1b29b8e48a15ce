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
