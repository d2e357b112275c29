using System.Runtime.InteropServices;

namespace QuantSharp.Onnx;

/// <summary>What kind of file system object an external-data path names, found without opening it.</summary>
/// <remarks>
/// Opening a FIFO for reading blocks until a writer appears, and .NET reports FIFOs and character devices as
/// <see cref="FileAttributes.Normal"/> files (checked with <c>mkfifo</c> on .NET 10), so the type has to come from
/// the kernel. Linux answers through <c>statx</c>, whose buffer layout is the same on every architecture.
/// </remarks>
internal static partial class ExternalFileKind
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

    /// <summary>File system object kinds the external-data reader tells apart.</summary>
    public enum Kind { Missing, Regular, Directory, Other }

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
