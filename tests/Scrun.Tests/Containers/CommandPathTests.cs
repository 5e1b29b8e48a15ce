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
        File.SetUnixFileMode(Path.Combine(_rootfs, "bin/busybox"), (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(Path.Combine(_rootfs, "opt/tools/tool"), (UnixFileMode)0b111_101_101);
        File.WriteAllText(Path.Combine(_rootfs, "bin/data"), ""); // not executable
        Directory.CreateDirectory(Path.Combine(_rootfs, "usr"));
        File.CreateSymbolicLink(Path.Combine(_rootfs, "usr/tools"), "/opt/tools"); // a directory link the host cannot follow
        File.CreateSymbolicLink(Path.Combine(_rootfs, "bin/loop"), "/bin/loop");
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

    [Theory]
    [InlineData("nosuch", new string[0], "exec: \"nosuch\": executable file not found in $PATH")] // runc's words: 127 to Podman and Docker
    [InlineData("/no/such", new string[0], "exec: \"/no/such\": stat /no/such: no such file or directory")]
    [InlineData("/bin/data", new string[0], "exec: \"/bin/data\": permission denied")] // 126
    [InlineData("/opt/tools", new string[0], "exec: \"/opt/tools\": permission denied")]
    [InlineData("/bin/loop", new string[0], "exec: \"/bin/loop\": stat /bin/loop: no such file or directory")]
    public void What_runc_could_not_exec_is_said_at_create_in_its_words(string command, string[] environment, string refusal) =>
        Assert.Equal($"unable to start container process: {refusal}", CommandPath.ExecRefusal(_rootfs, command, environment, []));

    [Theory]
    [InlineData("sh", new string[0], new string[0])] // through the image's absolute link /bin/sh -> /bin/busybox
    [InlineData("/usr/tools/tool", new string[0], new string[0])] // an absolute directory link, followed inside the image
    [InlineData("tool", new[] { "PATH=/opt/tools" }, new string[0])]
    [InlineData("./run.sh", new string[0], new string[0])] // relative to process.cwd: runc's to judge
    [InlineData("/mnt/app/run", new string[0], new[] { "/proc", "/mnt/app/" })] // a volume brings it
    [InlineData("fromvolume", new[] { "PATH=/mnt/app/bin:/bin" }, new[] { "/mnt/app" })]
    public void What_runc_could_exec_or_a_mount_may_bring_passes(string command, string[] environment, string[] mounts) =>
        Assert.Null(CommandPath.ExecRefusal(_rootfs, command, environment, mounts));
}
