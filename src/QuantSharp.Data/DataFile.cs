using System.IO.Compression;

namespace QuantSharp.Data;

/// <summary>Opens data files, gunzipping transparently when the content starts with the gzip magic <c>1f 8b</c> (whatever the extension).</summary>
public static class DataFile
{
    /// <summary>Opens <paramref name="path"/> for reading; gzip content is decompressed on the fly.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist (message names it).</exception>
    public static Stream Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data file {path} not found", path);
        var file = Engine.IO.FileKind.OpenRead(path, $"file '{path}'");
        Span<byte> magic = stackalloc byte[2];
        int got = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) return new BufferedStream(new GZipStream(file, CompressionMode.Decompress), 1 << 16);
        return file;
    }
}
