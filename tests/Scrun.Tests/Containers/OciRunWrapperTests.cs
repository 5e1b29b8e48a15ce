using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit;

namespace Scrun.Tests.Containers;

/// <summary>samples/oci-run, the RunTimeRun wrapper for 22.05 nodes, on a config.json as slurmstepd 22.05 writes it.</summary>
public sealed class OciRunWrapperTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scrun-oci-run-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_linked_rootfs_is_resolved_before_runc_sees_it()
    {
        var image = Directory.CreateDirectory(Path.Combine(_directory, "image")).FullName;
        var bundle = Directory.CreateDirectory(Path.Combine(_directory, "bundle")).FullName;
        var spool = Directory.CreateDirectory(Path.Combine(_directory, "spool")).FullName;
        File.CreateSymbolicLink(Path.Combine(bundle, "rootfs"), image);
        var escaped = Path.Combine(bundle, "rootfs").Replace("/", "\\/", StringComparison.Ordinal);
        // slurmstepd 22.05's layout: indented, slashes escaped, root.path always <bundle>/rootfs.
        File.WriteAllText(Path.Combine(spool, "config.json"), $$"""
            {
              "ociVersion": "1.0.2",
              "process": {
                "terminal": false,
                "cwd": "\/"
              },
              "root": {
                "path": "{{escaped}}",
                "readonly": true
              },
              "mounts": [
                {
                  "destination": "\/proc",
                  "type": "proc"
                }
              ]
            }
            """);

        var wrapper = Path.Combine(AppContext.BaseDirectory, "TestData", "samples", "oci-run");
        using var run = Process.Start(new ProcessStartInfo("sh") { ArgumentList = { wrapper, "true", "--bundle", spool } })!;
        run.WaitForExit();

        Assert.Equal(0, run.ExitCode);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(spool, "config.json")))!;
        Assert.Equal(image, (string)config["root"]!["path"]!);
        Assert.Equal("/proc", (string)config["mounts"]![0]!["destination"]!);
    }
}
