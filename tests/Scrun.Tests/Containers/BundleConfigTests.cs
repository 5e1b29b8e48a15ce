using System.Text.Json.Nodes;
using Scrun.Containers.Oci;
using Xunit;

namespace Scrun.Tests.Containers;

public sealed class BundleConfigTests : IDisposable
{
    private readonly string _bundle = Directory.CreateTempSubdirectory("scrun-bundle-").FullName;

    public void Dispose() => Directory.Delete(_bundle, recursive: true);

    private BundleConfig Load(string json)
    {
        File.WriteAllText(Path.Combine(_bundle, "config.json"), json);
        return BundleConfig.Load(_bundle);
    }

    [Fact]
    public void Reads_what_scrun_needs_and_resolves_a_relative_root()
    {
        var config = Load("""
            {"ociVersion":"1.0.2","process":{"terminal":true,"args":["sh","-c","exit 3"],"env":["PATH=/bin","SCRUN_QOS=x"],"cwd":"/work"},
             "root":{"path":"rootfs"},"annotations":{"a":"1"},"x-unknown":{"kept":true}}
            """);
        Assert.Equal("1.0.2", config.OciVersion);
        Assert.Equal(["sh", "-c", "exit 3"], config.Args);
        Assert.Equal(["PATH=/bin", "SCRUN_QOS=x"], config.Env);
        Assert.Equal("/work", config.Cwd);
        Assert.True(config.Terminal);
        Assert.Equal(Path.Combine(_bundle, "rootfs"), config.RootPath);
        Assert.Equal("1", config.Annotations["a"]);
    }

    [Fact]
    public void The_staged_copy_keeps_unknown_members_and_drops_node_local_hooks()
    {
        var config = Load("""
            {"process":{"args":["true"]},"root":{"path":"/r"},"x-unknown":{"kept":true},
             "hooks":{"prestart":[{"path":"/proc/42/exe","args":["libnetwork-setkey","-exec-root=/x"]}],
                      "poststop":[{"path":"/usr/bin/cleanup"}]}}
            """);
        var staged = JsonNode.Parse(config.ToStagedJson("/staged/rootfs"))!;
        Assert.Equal("/staged/rootfs", staged["root"]!["path"]!.GetValue<string>());
        Assert.True(staged["x-unknown"]!["kept"]!.GetValue<bool>());
        Assert.Null(staged["hooks"]!["prestart"]);
        Assert.Equal("/usr/bin/cleanup", staged["hooks"]!["poststop"]![0]!["path"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("not json", "is not valid JSON")]
    [InlineData("[]", "is not a JSON object")]
    [InlineData("""{"root":{"path":"/r"}}""", "process is missing")]
    [InlineData("""{"process":{"args":[]},"root":{"path":"/r"}}""", "process.args is empty")]
    [InlineData("""{"process":{"args":"sh"},"root":{"path":"/r"}}""", "process.args must be a list of strings")]
    [InlineData("""{"process":{"args":["sh"],"terminal":"yes"},"root":{"path":"/r"}}""", "process.terminal must be true or false")]
    [InlineData("""{"process":{"args":["sh"],"cwd":"rel"},"root":{"path":"/r"}}""", "process.cwd must be an absolute path")]
    [InlineData("""{"process":{"args":["sh"]}}""", "root.path is missing")]
    [InlineData("""{"process":{"args":["sh"]},"root":{"path":"/r"},"annotations":{"a":1}}""", "annotations.a must be a string")]
    public void A_broken_config_is_one_line_naming_the_member(string json, string expected)
    {
        var error = Assert.Throws<BundleException>(() => Load(json));
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void A_missing_config_is_named()
    {
        var error = Assert.Throws<BundleException>(() => BundleConfig.Load(Path.Combine(_bundle, "nowhere")));
        Assert.Contains("cannot read", error.Message);
    }
}
