using System.IO.Compression;
using QuantSharp.Engine;

namespace QuantSharp.Data;

/// <summary>
/// NumPy's <c>.npz</c> archives (what <c>numpy.savez</c> / <c>savez_compressed</c> write): a zip whose entries
/// <c>NAME.npy</c> each hold one array named NAME. Entries are read through <see cref="Npy"/>.
/// </summary>
public static class Npz
{
    /// <summary>
    /// Deflate cannot expand data by more than about 1032:1, so an entry declaring more than that per compressed byte
    /// lies about its size. Stored entries must declare exactly what they hold.
    /// </summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>Reads every array of the archive at <paramref name="path"/>, in entry order.</summary>
    /// <exception cref="InvalidDataException">Not a zip, an entry that is not NAME.npy, a repeated name, an entry whose
    /// declared size does not fit what the archive holds, or a malformed .npy entry (each naming file and entry).</exception>
    public static List<(string Name, Tensor Value)> Read(string path)
    {
        using var fs = Engine.IO.FileKind.OpenRead(path, $"Npz: file '{path}'");
        return Read(fs, path);
    }

    /// <summary>Reads every array of the archive in <paramref name="stream"/> (seekable); <paramref name="path"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">As <see cref="Read(string)"/>.</exception>
    public static List<(string Name, Tensor Value)> Read(Stream stream, string path)
    {
        ZipArchive zip;
        try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
        catch (InvalidDataException e) { throw new InvalidDataException($"Npz: file '{path}': not a zip archive ({e.Message})"); }
        using (zip)
        {
            var arrays = new List<(string, Tensor)>();
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue;
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                    throw new InvalidDataException($"Npz: file '{path}': entry '{entry.FullName}' is not a .npy array");
                string name = entry.FullName[..^4];
                if (arrays.Exists(a => a.Item1 == name)) throw new InvalidDataException($"Npz: file '{path}': array '{name}' appears twice");
                arrays.Add((name, ReadEntry(path, entry)));
            }
            return arrays;
        }
    }

    private static Tensor ReadEntry(string path, ZipArchiveEntry entry)
    {
        string where = $"{path}:{entry.FullName}";
        long declared = entry.Length, packed = entry.CompressedLength;
        bool stored = declared == packed;
        if (declared < 0 || declared > Math.Max(packed, 1) * MaxDeflateRatio || declared > int.MaxValue)
            throw new InvalidDataException($"Npz: entry '{where}' declares {declared} bytes but the archive holds {packed} compressed bytes for it");
        // Into memory with the declared size as the cap, so the .npy reader can check its header against real bytes.
        var buffer = new MemoryStream((int)Math.Min(declared, 1 << 20));
        try
        {
            using var s = entry.Open();
            var chunk = new byte[81920];
            int got;
            while ((got = s.Read(chunk, 0, chunk.Length)) > 0)
            {
                if (buffer.Length + got > declared)
                    throw new InvalidDataException($"Npz: entry '{where}' holds more than the {declared} bytes it declares");
                buffer.Write(chunk, 0, got);
            }
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith("Npz:", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"Npz: entry '{where}' is corrupt ({e.Message})");
        }
        if (buffer.Length != declared && !stored)
            throw new InvalidDataException($"Npz: entry '{where}' holds {buffer.Length} bytes, not the {declared} it declares");
        buffer.Position = 0;
        return Npy.Read(buffer, where);
    }

    /// <summary>Writes <paramref name="arrays"/> as an uncompressed archive (as <c>numpy.savez</c> does), atomically.</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Value)> arrays) =>
        Engine.IO.AtomicFile.Write(path, s =>
        {
            using var zip = new ZipArchive(s, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (name, value) in arrays)
            {
                using var e = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression).Open();
                Npy.Write(e, value);
            }
        });
}
