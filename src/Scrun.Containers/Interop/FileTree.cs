using System.Runtime.InteropServices;

namespace Scrun.Containers.Interop;

/// <summary>
/// The file system through descriptors (statx, openat): what a path is, and removing a
/// directory tree scrun made without ever leaving it: the tree is found by its real
/// path (symbolic links resolved once), whatever is mounted inside is unmounted first, and the
/// walk goes through directory descriptors (<c>openat</c> with <c>O_NOFOLLOW</c>), never follows a
/// symbolic link and never enters a directory on another mount. A bind-mounted root filesystem
/// is a user's image: it is unmounted, never emptied; one that cannot be unmounted stops the
/// removal with an error.
/// </summary>
internal static unsafe partial class FileTree
{
    private const uint StatxType = 0x1;
    private const uint StatxMode = 0x2;
    private const uint StatxLinks = 0x4;
    private const uint StatxUid = 0x8;
    private const uint StatxGid = 0x10;
    private const uint StatxInode = 0x100;
    private const uint StatxMountId = 0x1000;
    private const ushort TypeMask = 0xF000;
    private const ushort TypeDirectory = 0x4000;
    private const ushort TypeRegular = 0x8000;
    private const ushort TypeLink = 0xA000;

    /// <summary>Removes <paramref name="path"/> (a directory tree, a file or a link) if it exists.</summary>
    /// <exception cref="IOException">Something under it could not be removed; the message names it.</exception>
    public static void Remove(string path)
    {
        var real = LibC.RealPath(Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/") is { } parent
            ? Path.Combine(parent, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path))))
            : null;
        if (real is null || !Exists(real))
        {
            return;
        }
        Mounts.UnmountUnder(real);
        var parentFd = OpenDirectory(LibC.AtFdcwd, Path.GetDirectoryName(real)!, real);
        try
        {
            RemoveEntry(parentFd, Path.GetFileName(real), real, ParentMount(parentFd, real));
        }
        finally
        {
            LibC.close(parentFd);
        }
    }

    /// <summary>Removes everything inside <paramref name="directory"/> and keeps the directory itself.</summary>
    public static void Empty(string directory)
    {
        var real = LibC.RealPath(directory) ?? throw new IOException($"{directory}: {LibC.LastError()}");
        Mounts.UnmountUnder(real, includingItself: false);
        var fd = OpenDirectory(LibC.AtFdcwd, real, real);
        try
        {
            RemoveContents(fd, real, ParentMount(fd, real));
        }
        finally
        {
            LibC.close(fd);
        }
    }

    /// <summary>
    /// Removes the entry <paramref name="name"/> of the directory open as <paramref name="parentFd"/>
    /// (a tree, a file or a link) if it exists: the same walk as <see cref="Remove"/>, from a
    /// directory held open, so a parent renamed or replaced meanwhile is never the one emptied.
    /// </summary>
    /// <exception cref="IOException">Something under it could not be removed; the message names it.</exception>
    public static void RemoveAt(int parentFd, string name)
    {
        var parent = LibC.RealPath($"/proc/self/fd/{parentFd}") ?? throw new IOException($"cannot find the directory of {name}: {LibC.LastError()}");
        var path = Path.Combine(parent, name);
        if (Status(parentFd, name) is null)
        {
            return;
        }
        Mounts.UnmountUnder(path);
        RemoveEntry(parentFd, name, path, ParentMount(parentFd, path));
    }

    /// <summary>What <paramref name="name"/> in the directory <paramref name="directoryFd"/> is (a link itself, never followed); null when there is no such entry.</summary>
    public static FileStatus? Status(int directoryFd, string name)
    {
        Statx info;
        if (statx(directoryFd, name, LibC.AtSymlinkNofollow, StatxType | StatxMode | StatxUid | StatxGid, &info) != 0)
        {
            return Marshal.GetLastPInvokeError() is 2 /* ENOENT */ or 20 /* ENOTDIR: a part of the way is a file */ ? null : throw new IOException($"{name}: {LibC.LastError()}");
        }
        return StatusOf(info);
    }

    /// <summary>What the open descriptor <paramref name="fd"/> is.</summary>
    public static FileStatus Status(int fd)
    {
        Statx info;
        return statx(fd, "", LibC.AtEmptyPath, StatxType | StatxMode | StatxUid | StatxGid, &info) == 0
            ? StatusOf(info)
            : throw new IOException(LibC.LastError());
    }

    private static FileStatus StatusOf(in Statx info) => new(
        (info.Mode & TypeMask) switch
        {
            TypeDirectory => FileKind.Directory,
            TypeRegular => FileKind.Regular,
            TypeLink => FileKind.SymbolicLink,
            _ => FileKind.Other,
        },
        info.Uid,
        info.Gid,
        (UnixFileMode)(info.Mode & 0xFFF));

    /// <summary>Whether a path names a regular file (symbolic links followed), and its size.</summary>
    public static bool IsRegularFile(int fd, out long size)
    {
        Statx info;
        if (statx(fd, "", LibC.AtEmptyPath, StatxType, &info) != 0)
        {
            throw new IOException(LibC.LastError());
        }
        size = (long)info.Size;
        return (info.Mode & TypeMask) == TypeRegular;
    }

    /// <summary>Whether <paramref name="fd"/> is still the directory at <paramref name="path"/> (not one removed since).</summary>
    public static bool IsSameDirectory(int fd, string path)
    {
        Statx opened, named;
        return statx(fd, "", LibC.AtEmptyPath, StatxInode, &opened) == 0
            && statx(LibC.AtFdcwd, path, LibC.AtSymlinkNofollow, StatxInode, &named) == 0
            && opened.Inode == named.Inode && opened.DevMajor == named.DevMajor && opened.DevMinor == named.DevMinor;
    }

    /// <summary>Whether the directory open as <paramref name="fd"/> has been removed (no name links to it any more).</summary>
    public static bool IsRemoved(int fd)
    {
        Statx info;
        return statx(fd, "", LibC.AtEmptyPath, StatxLinks, &info) == 0 && info.Links == 0;
    }

    private static bool Exists(string path)
    {
        Statx info;
        return statx(LibC.AtFdcwd, path, LibC.AtSymlinkNofollow, StatxType, &info) == 0;
    }

    private static ulong ParentMount(int fd, string path)
    {
        Statx info;
        if (statx(fd, "", LibC.AtEmptyPath, StatxMountId, &info) != 0)
        {
            throw new IOException($"{path}: {LibC.LastError()}");
        }
        return MountOf(info);
    }

    private static void RemoveEntry(int parentFd, string name, string path, ulong parentMount)
    {
        Statx info;
        if (statx(parentFd, name, LibC.AtSymlinkNofollow, StatxType | StatxMountId, &info) != 0)
        {
            if (Marshal.GetLastPInvokeError() == 2 /* ENOENT */)
            {
                return;
            }
            throw new IOException($"{path}: {LibC.LastError()}");
        }
        if ((info.Mode & TypeMask) == TypeDirectory)
        {
            if (MountOf(info) != parentMount)
            {
                throw new IOException($"{path} is a mount point that could not be unmounted; it was left as it is");
            }
            var fd = OpenDirectory(parentFd, name, path);
            try
            {
                RemoveContents(fd, path, parentMount);
            }
            finally
            {
                LibC.close(fd);
            }
        }
        // A symbolic link is removed itself, never what it points to.
        if (LibC.unlinkat(parentFd, name, (info.Mode & TypeMask) == TypeDirectory ? LibC.AtRemovedir : 0) != 0
            && Marshal.GetLastPInvokeError() != 2)
        {
            throw new IOException($"cannot remove {path}: {LibC.LastError()}");
        }
    }

    private static void RemoveContents(int fd, string path, ulong mount)
    {
        foreach (var name in Names(fd, path))
        {
            RemoveEntry(fd, name, Path.Combine(path, name), mount);
        }
    }

    private static List<string> Names(int fd, string path)
    {
        var copy = LibC.dup(fd); // closedir closes the descriptor it was given
        var stream = copy < 0 ? 0 : fdopendir(copy);
        if (stream == 0)
        {
            if (copy >= 0)
            {
                LibC.close(copy);
            }
            throw new IOException($"cannot read {path}: {LibC.LastError()}");
        }
        var names = new List<string>();
        try
        {
            for (var entry = readdir64(stream); entry != 0; entry = readdir64(stream))
            {
                var name = Marshal.PtrToStringUTF8(entry + 19)!; // d_name follows d_ino, d_off, d_reclen, d_type
                if (name is not ("." or ".."))
                {
                    names.Add(name);
                }
            }
        }
        finally
        {
            closedir(stream);
        }
        return names;
    }

    private static int OpenDirectory(int parentFd, string name, string path)
    {
        var fd = LibC.openat(parentFd, name, LibC.ORdonly | LibC.ODirectory | LibC.ONofollow | LibC.OCloexec);
        return fd >= 0 ? fd : throw new IOException($"cannot open {path}: {LibC.LastError()}");
    }

    /// <summary>The mount id (Linux 5.8+); on older kernels the device number stands in for it.</summary>
    private static ulong MountOf(in Statx info) =>
        (info.Mask & StatxMountId) != 0 ? info.MountId : ((ulong)info.DevMajor << 32) | info.DevMinor;

    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct Statx
    {
        [FieldOffset(0)]
        public uint Mask;

        [FieldOffset(16)]
        public uint Links;

        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(24)]
        public uint Gid;

        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(32)]
        public ulong Inode;

        [FieldOffset(40)]
        public ulong Size;

        [FieldOffset(136)]
        public uint DevMajor;

        [FieldOffset(140)]
        public uint DevMinor;

        [FieldOffset(144)]
        public ulong MountId;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int directory, string path, int flags, uint mask, Statx* buffer);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint fdopendir(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint readdir64(nint stream);

    [LibraryImport("libc")]
    private static partial int closedir(nint stream);
}

internal enum FileKind
{
    Directory,
    Regular,
    SymbolicLink,
    Other,
}

/// <summary>A file's type, owner and permission bits, as <c>statx</c> gives them.</summary>
internal readonly record struct FileStatus(FileKind Kind, uint Uid, uint Gid, UnixFileMode Mode)
{
    /// <summary>Whether users other than the owner may add, remove or rename entries (or change the file).</summary>
    public bool WritableByOthers => (Mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0;

    /// <summary>The sticky bit: in a directory, only an entry's owner (or the directory's) may remove or rename it.</summary>
    public bool Sticky => (Mode & UnixFileMode.StickyBit) != 0;

    /// <summary>The permission bits as <c>ls</c> and <c>chmod</c> write them (<c>1777</c>).</summary>
    public string Octal => Convert.ToString((int)Mode, 8).PadLeft(4, '0');
}
