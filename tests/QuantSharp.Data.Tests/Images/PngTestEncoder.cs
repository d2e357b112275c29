using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace QuantSharp.Data.Tests.Images;

/// <summary>
/// A minimal PNG writer for tests that chooses the row filter explicitly (row r uses filter r mod 5 unless told), so
/// every filter is exercised whatever an external encoder would pick. Not interlaced.
/// </summary>
internal static class PngTestEncoder
{
    /// <summary>Encodes packed rows (<paramref name="rows"/>[y] = the raw scanline without filter byte).</summary>
    public static byte[] Encode(int w, int h, int depth, int colorType, byte[][] rows, byte[]? palette = null, Func<int, int>? filterOf = null)
    {
        int samples = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        int bpp = Math.Max(1, samples * depth / 8);
        var raw = new MemoryStream();
        byte[] prior = new byte[rows[0].Length];
        for (int y = 0; y < h; y++)
        {
            int f = filterOf?.Invoke(y) ?? y % 5;
            var line = rows[y];
            raw.WriteByte((byte)f);
            for (int i = 0; i < line.Length; i++)
            {
                int a = i >= bpp ? line[i - bpp] : 0, b = prior[i], c = i >= bpp ? prior[i - bpp] : 0;
                int pred = f switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) >> 1, _ => Paeth(a, b, c) };
                raw.WriteByte((byte)(line[i] - pred));
            }
            prior = line;
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) raw.WriteTo(zs);
        var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = (byte)depth;
        ihdr[9] = (byte)colorType;
        Chunk(png, "IHDR", ihdr);
        if (palette is not null) Chunk(png, "PLTE", palette);
        var data = z.ToArray();
        // Split the image data over two IDAT chunks to check they are concatenated.
        Chunk(png, "IDAT", data[..(data.Length / 2)]);
        Chunk(png, "IDAT", data[(data.Length / 2)..]);
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    public static void Chunk(Stream s, string type, byte[] body)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, body.Length);
        s.Write(len);
        byte[] tb = [.. Encoding.ASCII.GetBytes(type), .. body];
        s.Write(tb);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc(tb));
        s.Write(len);
    }

    public static uint Crc(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }
}
