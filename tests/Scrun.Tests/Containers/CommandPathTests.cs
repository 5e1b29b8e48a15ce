using Scrun.Containers.Oci;
using Xunit;

namespace Scrun.Tests.Containers;

public sealed class CommandPathTests : IDisposable
{
    private readonly string _rootfs = Directory.CreateTempSubdirectory("scrun-rootfs-").FullName;

    public CommandPathTests()
    {
        Directory.CreateDirectory(Path.Combine(_rootfs, "bin"));
        Directory.CreateDirectory(Path.Combine(_rootfs, "opt/tools"));
        File.WriteAllText(Path.Combine(_rootfs, "bin/busybox"), "");
        File.CreateSymbolicLink(Path.Combine(_rootfs, "bin/sh"), "/bin/busybox"); // absolute: into the image
        File.WriteAllText(Path.Combine(_rootfs, "opt/tools/tool"), "");
    }

    public void Dispose() => Directory.Delete(_rootfs, recursive: true);

    [Theory]
    [InlineData("sh", new string[0], "/bin/sh")] // runc's default PATH; /usr/bin/sh is not in this image
    [InlineData("tool", new[] { "PATH=/opt/tools:/bin" }, "/opt/tools/tool")]
    [InlineData("tool", new string[0], "tool")] // not along the PATH: as it is, runc names it
    [InlineData("./run.sh", new string[0], "./run.sh")]
    [InlineData("/usr/bin/env", new string[0], "/usr/bin/env")]
    [InlineData("sh", new[] { "PATH=relative:/opt/tools", "PATH=/bin" }, "/bin/sh")] // the last PATH wins: runc sets them in order
    public void A_bare_command_is_found_in_the_image_along_the_containers_path(string command, string[] environment, string expected) =>
        Assert.Equal(expected, CommandPath.InImage(_rootfs, command, environment));
}
