using System.Runtime.InteropServices;

namespace QuantSharp.Engine.IO;

/// <summary>What kind of file system object a path names, found without opening it (so a FIFO cannot block the reader).</summary>
/// <remarks>
/// Opening a FIFO for reading blocks until a writer appears, and .NET reports FIFOs and character devices as
/// <see cref="FileAttributes.Normal"/> files (checked with <c>mkfifo</c> on .NET 10), so the type has to come from
/// the kernel. Linux answers through <c>statx</c>, whose buffer layout is the same on every architecture.
/// </remarks>
public static partial class FileKind
{
    /// <summary>The kind of the object at <paramref name="path"/>, following symbolic links.</summary>
    public static Kind Of(string path)
    {
        if (Directory.Exists(path)) return Kind.Directory;
        if (!File.Exists(path)) return Kind.Missing;
        if (OperatingSystem.IsLinux()) return LinuxKind(path);
        if (OperatingSystem.IsWindows())
            return (File.GetAttributes(path) & FileAttributes.Device) != 0 ? Kind.Other : Kind.Regular;
        // Other Unix systems: no portable, layout-independent stat is available from .NET, so only directories
        // and missing files are told apart there.
        return Kind.Regular;
    }

    /// <summary>File system object kinds the readers tell apart.</summary>
    public enum Kind
    {
        /// <summary>Nothing at the path (or it cannot be examined).</summary>
        Missing,
        /// <summary>A regular file.</summary>
        Regular,
        /// <summary>A directory.</summary>
        Directory,
        /// <summary>A FIFO, device or socket: opening or reading it may block or never end.</summary>
        Other,
    }

    /// <summary>
    /// Refuses, before it is opened, a path a reader is about to read that is not a regular file: a FIFO would block
    /// the open until a writer appears, a device could be read forever.
    /// </summary>
    /// <param name="path">The path to read.</param>
    /// <param name="what">How the message names it, e.g. "Npy: file 'x.npy'".</param>
    /// <exception cref="FileNotFoundException">Nothing at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">A directory, FIFO, device or socket.</exception>
    public static void RequireRegular(string path, string what)
    {
        switch (Of(path))
        {
            case Kind.Missing: throw new FileNotFoundException($"{what} does not exist", path);
            case Kind.Directory: throw new InvalidDataException($"{what} is a directory; expected a regular file");
            case Kind.Other: throw new InvalidDataException($"{what} is not a regular file (a FIFO, device or socket); expected a regular file");
        }
    }

    /// <summary>Reads a whole file after <see cref="RequireRegular"/>; <paramref name="what"/> names it in errors.</summary>
    public static byte[] ReadAllBytes(string path, string what)
    {
        RequireRegular(path, what);
        return File.ReadAllBytes(path);
    }

    /// <summary>Reads a whole text file (UTF-8) after <see cref="RequireRegular"/>; <paramref name="what"/> names it in errors.</summary>
    public static string ReadAllText(string path, string what)
    {
        RequireRegular(path, what);
        return File.ReadAllText(path);
    }

    /// <summary>Opens a file for reading after <see cref="RequireRegular"/>; <paramref name="what"/> names it in errors.</summary>
    public static FileStream OpenRead(string path, string what, int bufferSize = 1 << 16)
    {
        RequireRegular(path, what);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
    }

    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28;
    private const int TypeMask = 0xF000, RegularType = 0x8000, DirectoryType = 0x4000;

    private static Kind LinuxKind(string path)
    {
        var buffer = new byte[256];
        int rc;
        try { rc = Statx(AtFdCwd, path, 0, StatxType, buffer); }
        catch (EntryPointNotFoundException) { return Kind.Regular; }
        if (rc != 0) return Kind.Missing;
        int type = BitConverter.ToUInt16(buffer, ModeOffset) & TypeMask;
        return type switch { RegularType => Kind.Regular, DirectoryType => Kind.Directory, _ => Kind.Other };
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, [Out] byte[] buffer);
}
