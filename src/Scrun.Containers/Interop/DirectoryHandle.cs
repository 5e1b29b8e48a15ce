using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Scrun.Containers.Interop;

/// <summary>
/// A directory held open: everything made, read or removed in it goes through its descriptor
/// (<c>mkdirat</c>, <c>openat</c> with <c>O_NOFOLLOW</c>, <c>symlinkat</c>), so a path another
/// user renames, replaces or links meanwhile is never the one written. Where an API wants a
/// path, <see cref="ProcPath"/> names this very directory.
/// </summary>
internal sealed partial class DirectoryHandle : IDisposable
{
    private const int OWronly = 1;
    private const int OCreat = 0x40;
    private const int OExcl = 0x80;

    private int _descriptor;

    private DirectoryHandle(int descriptor, string path)
    {
        _descriptor = descriptor;
        Path = path;
    }

    /// <summary>The path it was opened by (for messages; it may name another directory by now).</summary>
    public string Path { get; }

    public int Descriptor => _descriptor >= 0 ? _descriptor : throw new ObjectDisposedException(Path);

    /// <summary><c>/proc/self/fd/N</c>: this directory, for calls that take a path (mount, a copy).</summary>
    public string ProcPath => $"/proc/self/fd/{Descriptor}";

    /// <summary>Opens <paramref name="path"/>; a symbolic link as its last part is refused (the parts before it are followed).</summary>
    /// <exception cref="IOException">It is not a directory, is a link, or cannot be opened.</exception>
    public static DirectoryHandle Open(string path) =>
        OpenIfExists(path) ?? throw new IOException($"{path} does not exist");

    /// <summary><see cref="Open"/>, or null when nothing is there.</summary>
    public static DirectoryHandle? OpenIfExists(string path)
    {
        var fd = LibC.open(path, LibC.ORdonly | LibC.ODirectory | LibC.ONofollow | LibC.OCloexec);
        if (fd >= 0)
        {
            return new DirectoryHandle(fd, path);
        }
        return Marshal.GetLastPInvokeError() == 2 /* ENOENT */ ? null : throw new IOException($"cannot open {path}: {Describe(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>A handle on a copy of an open directory descriptor (a claim's, which stays the caller's to close).</summary>
    public static DirectoryHandle Borrow(int descriptor, string path) =>
        new(LibC.DuplicateCloseOnExec(descriptor) is >= 0 and var copy ? copy : throw new IOException($"{path}: {LibC.LastError()}"), path);

    public FileStatus Status() => FileTree.Status(Descriptor);

    /// <summary>What the entry <paramref name="name"/> is, without following a link; null when there is none.</summary>
    public FileStatus? StatusOf(string name) => FileTree.Status(Descriptor, name);

    /// <summary>Makes the directory <paramref name="name"/> (exclusively: one already there, a link included, is an error) and opens it.</summary>
    public DirectoryHandle MakeDirectory(string name, UnixFileMode mode)
    {
        if (mkdirat(Descriptor, name, (uint)mode) != 0)
        {
            throw new IOException($"cannot create {Child(name)}: {Describe(Marshal.GetLastPInvokeError())}");
        }
        var made = OpenDirectory(name);
        made.SetMode(mode); // whatever the umask took away
        return made;
    }

    /// <summary>Opens the directory <paramref name="name"/>, never through a link.</summary>
    public DirectoryHandle OpenDirectory(string name)
    {
        var fd = LibC.openat(Descriptor, name, LibC.ORdonly | LibC.ODirectory | LibC.ONofollow | LibC.OCloexec);
        return fd >= 0 ? new DirectoryHandle(fd, Child(name)) : throw new IOException($"cannot open {Child(name)}: {Describe(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>Creates the file <paramref name="name"/> exclusively (nothing there, not even a link) with <paramref name="mode"/>.</summary>
    public FileStream CreateFile(string name, UnixFileMode mode)
    {
        var fd = openat(Descriptor, name, OWronly | OCreat | OExcl | LibC.ONofollow | LibC.OCloexec, (uint)mode);
        if (fd < 0)
        {
            throw new IOException($"cannot create {Child(name)}: {Describe(Marshal.GetLastPInvokeError())}");
        }
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write);
    }

    /// <summary>Opens the regular file <paramref name="name"/> to read, never through a link; null when there is none.</summary>
    public FileStream? OpenFile(string name)
    {
        var fd = LibC.openat(Descriptor, name, LibC.ORdonly | LibC.ONofollow | LibC.OCloexec | LibC.ONonblock);
        if (fd < 0)
        {
            var error = Marshal.GetLastPInvokeError();
            return error == 2 ? null : throw new IOException($"cannot open {Child(name)}: {Describe(error)}");
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (FileTree.Status(fd).Kind != FileKind.Regular)
        {
            handle.Dispose();
            throw new IOException($"{Child(name)} is not a regular file");
        }
        return new FileStream(handle, FileAccess.Read);
    }

    public void CreateSymbolicLink(string name, string target)
    {
        if (symlinkat(target, Descriptor, name) != 0)
        {
            throw new IOException($"cannot create {Child(name)}: {Describe(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>Replaces <paramref name="to"/> with <paramref name="from"/>, both in this directory.</summary>
    public void Rename(string from, string to)
    {
        if (renameat(Descriptor, from, Descriptor, to) != 0)
        {
            throw new IOException($"cannot rename {Child(from)} to {to}: {Describe(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>Removes the entry <paramref name="name"/> if it is there (a tree, a file, a link; see <see cref="FileTree.RemoveAt"/>).</summary>
    public void Remove(string name) => FileTree.RemoveAt(Descriptor, name);

    /// <summary>Removes the file or link <paramref name="name"/> if it is there.</summary>
    public void RemoveFile(string name)
    {
        if (LibC.unlinkat(Descriptor, name, 0) != 0 && Marshal.GetLastPInvokeError() != 2)
        {
            throw new IOException($"cannot remove {Child(name)}: {Describe(Marshal.GetLastPInvokeError())}");
        }
    }

    public void SetMode(UnixFileMode mode)
    {
        if (fchmod(Descriptor, (uint)mode) != 0)
        {
            throw new IOException($"cannot change the mode of {Path}: {Describe(Marshal.GetLastPInvokeError())}");
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _descriptor, -1);
        if (fd >= 0)
        {
            LibC.close(fd);
        }
    }

    private string Child(string name) => System.IO.Path.Combine(Path, name);

    private static string Describe(int error) => Marshal.GetPInvokeErrorMessage(error);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdirat(int directory, string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int openat(int directory, string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int symlinkat(string target, int directory, string path);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat(int fromDirectory, string from, int toDirectory, string to);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchmod(int fd, uint mode);
}
