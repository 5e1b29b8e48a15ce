using System.Runtime.InteropServices;

namespace Scrun.Containers.Interop;

/// <summary>What kind of namespace a file (<c>/proc/PID/ns/net</c>, a bind-mounted netns) is.</summary>
internal static partial class NamespaceFile
{
    private const nuint NsGetNsType = 0xb703; // _IO(0xb7, 0x3)

    /// <summary>The namespace's CLONE_NEW* type; null when the file cannot be opened or is no namespace.</summary>
    public static int? TypeOf(string path)
    {
        var fd = LibC.open(path, LibC.ORdonly | LibC.OCloexec);
        if (fd < 0)
        {
            return null;
        }
        try
        {
            var type = ioctl(fd, NsGetNsType, 0);
            return type >= 0 ? type : null;
        }
        finally
        {
            LibC.close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, nint argument);
}
