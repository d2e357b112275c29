using System.Buffers.Binary;
using System.IO.Compression;

namespace QuantSharp.Data.Images;

/// <summary>
/// PNG decoder (ISO/IEC 15948): every colour type (gray, RGB, palette, gray+alpha, RGBA), bit depths 1/2/4/8/16, the
/// five row filters, Adam7 interlacing, and every chunk's CRC checked. Output is 8-bit: gray and gray+alpha give one
/// channel, RGB, palette and RGBA give three.
/// </summary>
/// <remarks>
/// Sample conversion (as libpng's expand + strip-16 transforms): a b-bit gray sample v (b &lt; 8) becomes
/// v·255/(2^b − 1) (exact: 1-bit ×255, 2-bit ×85, 4-bit ×17); a 16-bit sample v becomes v &gt;&gt; 8 (its high byte).
/// Alpha (an alpha channel or a tRNS chunk) is dropped, not composited — the colour values are kept as stored, the
/// same as PIL's <c>convert("RGB")</c> / <c>convert("L")</c>. Inflate uses <see cref="ZLibStream"/>. Ancillary
/// chunks other than tRNS are skipped; an unknown critical chunk is an "unsupported" error.
/// </remarks>
public static class PngDecoder
{
    private const long MaxInflateRatio = 1032;

    private static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    // Adam7 passes: x start, y start, x step, y step.
    private static readonly int[] PassX0 = [0, 4, 0, 2, 0, 1, 0], PassY0 = [0, 0, 4, 0, 2, 0, 1];
    private static readonly int[] PassDx = [8, 8, 4, 4, 2, 2, 1], PassDy = [8, 8, 8, 4, 4, 2, 2];

    /// <summary>True when <paramref name="head"/> starts with the 8-byte PNG signature.</summary>
    public static bool IsPng(ReadOnlySpan<byte> head) => head.Length >= 8 && head[..8].SequenceEqual(Signature);

    /// <summary>Decodes the PNG file at <paramref name="path"/>.</summary>
    /// <exception cref="ImageFormatException">The file is not a valid PNG (message names the file and the problem).</exception>
    public static DecodedImage Decode(string path) => Decode(Engine.IO.FileKind.ReadAllBytes(path, $"image '{path}'"), path);

    /// <summary>
    /// Decodes PNG bytes; <paramref name="name"/> is used in error messages. When <paramref name="buffer"/> is large
    /// enough the pixels are written there (the result wraps it), else a new array is allocated.
    /// </summary>
    /// <exception cref="ImageFormatException">Bad signature, CRC, header, filter, or truncated data.</exception>
    public static DecodedImage Decode(ReadOnlySpan<byte> data, string name = "<memory>", byte[]? buffer = null)
    {
        var h = ReadChunks(data, name, headerOnly: false, out var idat, out var palette);
        int samples = SamplesPerPixel(h.ColorType);
        int bitsPerPixel = samples * h.BitDepth;
        int bpp = Math.Max(1, bitsPerPixel / 8);
        int outChannels = h.ColorType is 0 or 4 ? 1 : 3;
        if (h.ColorType == 3 && palette is null) throw Error(name, "palette image (colour type 3) without a PLTE chunk");

        // Raw (filtered) size over all passes.
        int passes = h.Interlaced ? 7 : 1;
        long rawSize = 0;
        for (int p = 0; p < passes; p++)
        {
            var (pw, ph) = PassSize(h, p);
            if (pw > 0 && ph > 0) rawSize += (long)ph * (1 + ((long)pw * bitsPerPixel + 7) / 8);
        }
        if (rawSize > int.MaxValue) throw ImageFormatException.NotSupported(name, "PNG", $"image size {h.Width}x{h.Height} (too large)");
        // Deflate cannot expand data more than 1032:1 (a 258-byte match per 2 bits at best), so a header whose size
        // needs more than that is corrupt; checking first keeps a tiny file from allocating gigabytes.
        if (rawSize > MaxInflateRatio * idat.Length + 64)
            throw Error(name, $"truncated image data: the IDAT chunks hold {idat.Length} bytes, which cannot inflate to the {rawSize} bytes a {h.Width}x{h.Height} image needs");
        var raw = System.Buffers.ArrayPool<byte>.Shared.Rent((int)rawSize);
        try { return Unpack(h, palette, idat, raw, (int)rawSize, bitsPerPixel, bpp, outChannels, passes, name, buffer); }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(raw); }
    }

    private static DecodedImage Unpack(Header h, byte[]? palette, MemoryStream idat, byte[] raw, int rawSize, int bitsPerPixel, int bpp,
        int outChannels, int passes, string name, byte[]? buffer)
    {
        int got;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            got = z.ReadAtLeast(raw.AsSpan(0, rawSize), rawSize, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // zlib reports some corrupt streams as ZLibException (an IOException) rather than InvalidDataException.
            throw new ImageFormatException(name, "PNG", $"corrupt zlib data in IDAT: {e.Message}", e);
        }
        if (got < rawSize) throw Error(name, $"truncated image data: expected {rawSize} bytes after inflate, got {got}");

        long size = (long)h.Width * h.Height * outChannels;
        var pixels = buffer is not null && buffer.Length >= size ? buffer : GC.AllocateUninitializedArray<byte>((int)size);
        int offset = 0;
        byte[] prior = [];
        for (int p = 0; p < passes; p++)
        {
            var (pw, ph) = PassSize(h, p);
            if (pw == 0 || ph == 0) continue;
            int rowBytes = (int)(((long)pw * bitsPerPixel + 7) / 8);
            if (prior.Length < rowBytes) prior = new byte[rowBytes];
            else Array.Clear(prior, 0, rowBytes);
            int x0 = h.Interlaced ? PassX0[p] : 0, y0 = h.Interlaced ? PassY0[p] : 0;
            int dx = h.Interlaced ? PassDx[p] : 1, dy = h.Interlaced ? PassDy[p] : 1;
            for (int r = 0; r < ph; r++)
            {
                byte filter = raw[offset];
                var line = raw.AsSpan(offset + 1, rowBytes);
                PngFilters.Unfilter(filter, line, prior.AsSpan(0, rowBytes), bpp, name, y0 + r * dy);
                WriteRow(h, palette, line, pw, pixels, outChannels, y0 + r * dy, x0, dx, name);
                line.CopyTo(prior);
                offset += 1 + rowBytes;
            }
        }
        return new DecodedImage(h.Width, h.Height, outChannels, pixels);
    }

    /// <summary>Reads only the header of PNG bytes: (width, height, channels of the decoded output).</summary>
    /// <exception cref="ImageFormatException">Bad signature or header.</exception>
    public static (int Width, int Height, int Channels) ReadHeader(ReadOnlySpan<byte> data, string name = "<memory>")
    {
        var h = ReadChunks(data, name, headerOnly: true, out _, out _);
        return (h.Width, h.Height, h.ColorType is 0 or 4 ? 1 : 3);
    }

    private readonly record struct Header(int Width, int Height, int BitDepth, int ColorType, bool Interlaced);

    private static Header ReadChunks(ReadOnlySpan<byte> data, string name, bool headerOnly, out MemoryStream idat, out byte[]? palette)
    {
        idat = new MemoryStream();
        palette = null;
        if (data.Length < 8 || !data[..8].SequenceEqual(Signature))
            throw Error(name, $"bad signature: expected 89 50 4E 47 0D 0A 1A 0A, got {Convert.ToHexString(data[..Math.Min(8, data.Length)])}");
        int pos = 8;
        Header? header = null;
        bool sawIdat = false, sawEnd = false;
        while (!sawEnd)
        {
            if (pos + 8 > data.Length) throw Error(name, $"truncated: chunk header expected at byte {pos}, file has {data.Length} bytes");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            var typeBytes = data.Slice(pos + 4, 4);
            string type = System.Text.Encoding.ASCII.GetString(typeBytes);
            if (length > int.MaxValue || pos + 12 + (long)length > data.Length)
                throw Error(name, $"truncated: chunk '{type}' at byte {pos} declares {length} bytes, file has {data.Length - pos - 12} left");
            var body = data.Slice(pos + 8, (int)length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 8 + (int)length)..]);
            uint actual = Crc32.Compute(data.Slice(pos + 4, 4 + (int)length));
            if (stored != actual) throw Error(name, $"CRC mismatch in chunk '{type}' at byte {pos}: stored {stored:X8}, computed {actual:X8}");
            pos += 12 + (int)length;
            if (header is null && type != "IHDR") throw Error(name, $"first chunk expected 'IHDR', got '{type}'");
            switch (type)
            {
                case "IHDR":
                    if (header is not null) throw Error(name, "second IHDR chunk");
                    header = ParseHeader(body, name);
                    if (headerOnly) return header.Value;
                    break;
                case "PLTE":
                    if (length % 3 != 0 || length == 0 || length > 768) throw Error(name, $"PLTE length expected a multiple of 3 in 3..768, got {length}");
                    palette = body.ToArray();
                    break;
                case "IDAT":
                    idat.Write(body);
                    sawIdat = true;
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                case "tRNS":
                    break; // alpha is dropped (see remarks)
                default:
                    if ((typeBytes[0] & 0x20) == 0) throw ImageFormatException.NotSupported(name, "PNG", $"critical chunk '{type}'");
                    break;
            }
        }
        if (!sawIdat) throw Error(name, "no IDAT chunk");
        idat.Position = 0;
        return header!.Value;
    }

    private static Header ParseHeader(ReadOnlySpan<byte> b, string name)
    {
        if (b.Length != 13) throw Error(name, $"IHDR length expected 13, got {b.Length}");
        int w = BinaryPrimitives.ReadInt32BigEndian(b), hgt = BinaryPrimitives.ReadInt32BigEndian(b[4..]);
        int depth = b[8], color = b[9];
        if (w < 1 || hgt < 1) throw Error(name, $"IHDR size expected positive, got {w}x{hgt}");
        bool ok = color switch
        {
            0 => depth is 1 or 2 or 4 or 8 or 16,
            2 or 4 or 6 => depth is 8 or 16,
            3 => depth is 1 or 2 or 4 or 8,
            _ => throw Error(name, $"IHDR colour type expected 0, 2, 3, 4 or 6, got {color}"),
        };
        if (!ok) throw Error(name, $"IHDR bit depth {depth} is not allowed for colour type {color}");
        if (b[10] != 0) throw Error(name, $"IHDR compression method expected 0, got {b[10]}");
        if (b[11] != 0) throw Error(name, $"IHDR filter method expected 0, got {b[11]}");
        if (b[12] > 1) throw Error(name, $"IHDR interlace method expected 0 or 1, got {b[12]}");
        return new Header(w, hgt, depth, color, b[12] == 1);
    }

    private static int SamplesPerPixel(int colorType) => colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };

    private static (int W, int H) PassSize(Header h, int p)
    {
        if (!h.Interlaced) return (h.Width, h.Height);
        int w = h.Width > PassX0[p] ? (h.Width - PassX0[p] + PassDx[p] - 1) / PassDx[p] : 0;
        int hh = h.Height > PassY0[p] ? (h.Height - PassY0[p] + PassDy[p] - 1) / PassDy[p] : 0;
        return (w, hh);
    }

    // Converts one unfiltered row of `count` pixels to 8-bit output at row y, columns x0, x0+dx, ...
    private static void WriteRow(Header h, byte[]? palette, ReadOnlySpan<byte> line, int count, byte[] pixels, int oc, int y, int x0, int dx, string name)
    {
        int depth = h.BitDepth, rowStart = y * h.Width;
        int step = depth == 16 ? 2 : 1; // bytes per sample for depths >= 8
        switch (h.ColorType)
        {
            case 0 when depth < 8:
            {
                int mask = (1 << depth) - 1, scale = 255 / mask;
                for (int i = 0; i < count; i++) pixels[rowStart + x0 + i * dx] = (byte)(SubByte(line, i, depth, mask) * scale);
                break;
            }
            case 0:
                for (int i = 0; i < count; i++) pixels[rowStart + x0 + i * dx] = line[i * step];
                break;
            case 4:
                for (int i = 0; i < count; i++) pixels[rowStart + x0 + i * dx] = line[i * 2 * step];
                break;
            case 2 or 6:
            {
                int stride = (h.ColorType == 2 ? 3 : 4) * step;
                for (int i = 0; i < count; i++)
                {
                    int o = (rowStart + x0 + i * dx) * 3, s = i * stride;
                    pixels[o] = line[s];
                    pixels[o + 1] = line[s + step];
                    pixels[o + 2] = line[s + 2 * step];
                }
                break;
            }
            default: // palette
            {
                int mask = (1 << depth) - 1, entries = palette!.Length / 3;
                for (int i = 0; i < count; i++)
                {
                    int index = depth == 8 ? line[i] : SubByte(line, i, depth, mask);
                    if (index >= entries) throw Error(name, $"palette index {index} out of range (PLTE has {entries} entries) at row {y}");
                    int o = (rowStart + x0 + i * dx) * 3;
                    pixels[o] = palette[3 * index];
                    pixels[o + 1] = palette[3 * index + 1];
                    pixels[o + 2] = palette[3 * index + 2];
                }
                break;
            }
        }
    }

    // The i-th `depth`-bit sample of a packed row (most significant bits first).
    private static int SubByte(ReadOnlySpan<byte> line, int i, int depth, int mask)
    {
        int bit = i * depth;
        return (line[bit >> 3] >> (8 - depth - (bit & 7))) & mask;
    }

    private static ImageFormatException Error(string name, string problem) => new(name, "PNG", problem);
}
