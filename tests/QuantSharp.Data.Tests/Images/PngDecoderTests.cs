using System.Buffers.Binary;
using QuantSharp.Data.Images;

namespace QuantSharp.Data.Tests.Images;

/// <summary>
/// PNG decoding, pixel-exact: pictures generated here are written by netpbm's <c>pnmtopng</c> (libpng: every colour
/// type, bit depths 1–16, Adam7, alpha, tRNS) and by a test encoder that forces each of the five row filters; the
/// decoder must return exactly the pixels that were given (sub-8-bit gray scaled by 255/(2^b−1), 16-bit as v &gt;&gt; 8).
/// </summary>
public class PngDecoderTests
{
    private static void RequirePnmToPng()
    {
        if (!ImageTools.HasPnmToPng) Assert.Fail("pnmtopng not found (Debian package netpbm; test.sh installs it)");
    }

    private static byte[] Pnm(string magic, int w, int h, int maxval, int[] values)
    {
        var head = System.Text.Encoding.ASCII.GetBytes($"{magic}\n{w} {h}\n{maxval}\n");
        var body = maxval < 256 ? values.Select(v => (byte)v).ToArray() : values.SelectMany(v => new[] { (byte)(v >> 8), (byte)v }).ToArray();
        return [.. head, .. body];
    }

    private static int[] RandomValues(int n, int maxval, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next(maxval + 1)).ToArray();
    }

    private static byte To8(int v, int maxval) => (byte)(maxval == 65535 ? v >> 8 : v * 255 / maxval);

    [Theory]
    [InlineData(1, 13, 7, false)]
    [InlineData(3, 9, 5, false)]
    [InlineData(15, 11, 3, false)]
    [InlineData(65535, 7, 6, false)]
    [InlineData(1, 13, 7, true)]
    [InlineData(3, 10, 9, true)]
    [InlineData(15, 1, 1, true)]
    [InlineData(65535, 17, 11, true)]
    public void Gray_EveryBitDepth_PixelExact(int maxval, int w, int h, bool interlace)
    {
        RequirePnmToPng();
        var values = RandomValues(w * h, maxval, maxval + w);
        var png = ImageTools.MustRun("pnmtopng", interlace ? ["-force", "-interlace"] : ["-force"], Pnm("P5", w, h, maxval, values));
        Assert.Equal(0, png[25]); // colour type gray
        Assert.Equal(maxval switch { 1 => 1, 3 => 2, 15 => 4, _ => 16 }, png[24]);
        var img = PngDecoder.Decode(png, "gray.png");
        Assert.Equal((w, h, 1), (img.Width, img.Height, img.Channels));
        Assert.Equal(values.Select(v => To8(v, maxval)).ToArray(), img.Pixels);
    }

    [Theory]
    [InlineData(false, 255)]
    [InlineData(true, 255)]
    [InlineData(false, 65535)]
    [InlineData(true, 65535)]
    public void Rgb_8And16Bit_PixelExact(bool interlace, int maxval)
    {
        RequirePnmToPng();
        int w = 23, h = 19;
        var values = RandomValues(w * h * 3, maxval, w + maxval);
        var args = new List<string> { "-force" };
        if (interlace) args.Add("-interlace");
        var png = ImageTools.MustRun("pnmtopng", args, Pnm("P6", w, h, maxval, values));
        Assert.Equal(maxval == 255 ? 8 : 16, png[24]);
        Assert.Equal(2, png[25]);
        var img = PngDecoder.Decode(png, "rgb.png");
        Assert.Equal(values.Select(v => To8(v, maxval)).ToArray(), img.Pixels);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Palette_FewColours_PixelExact(bool interlace)
    {
        RequirePnmToPng();
        int w = 21, h = 14;
        int[][] pal = [[10, 20, 30], [200, 100, 50], [0, 255, 0], [255, 255, 255], [1, 2, 3]];
        var rng = new Random(4);
        var values = Enumerable.Range(0, w * h).SelectMany(_ => pal[rng.Next(pal.Length)]).ToArray();
        var png = ImageTools.MustRun("pnmtopng", interlace ? ["-interlace"] : [], Pnm("P6", w, h, 255, values));
        Assert.Equal(3, png[25]); // colour type palette
        var img = PngDecoder.Decode(png, "pal.png");
        Assert.Equal(3, img.Channels);
        Assert.Equal(values.Select(v => (byte)v).ToArray(), img.Pixels);
    }

    [Fact]
    public void Palette_WithTrns_KeepsColoursDropsAlpha()
    {
        RequirePnmToPng();
        int w = 9, h = 8;
        int[][] pal = [[10, 20, 30], [200, 100, 50], [0, 255, 0]];
        var rng = new Random(5);
        var values = Enumerable.Range(0, w * h).SelectMany(_ => pal[rng.Next(pal.Length)]).ToArray();
        var png = ImageTools.MustRun("pnmtopng", ["-transparent=rgb:0a/14/1e"], Pnm("P6", w, h, 255, values));
        Assert.True(png.AsSpan().IndexOf("tRNS"u8) > 0);
        Assert.Equal(values.Select(v => (byte)v).ToArray(), PngDecoder.Decode(png, "trns.png").Pixels);
    }

    [Theory]
    [InlineData("P6", false)]
    [InlineData("P5", false)]
    [InlineData("P6", true)]
    public void Alpha_RgbaAndGrayAlpha_AlphaDropped(string magic, bool interlace)
    {
        RequirePnmToPng();
        int w = 15, h = 10, c = magic == "P6" ? 3 : 1;
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("alpha.pgm"), Pnm("P5", w, h, 255, RandomValues(w * h, 255, 8)));
        var values = RandomValues(w * h * c, 255, 9);
        var args = new List<string> { "-force", $"-alpha={dir.File("alpha.pgm")}" };
        if (interlace) args.Add("-interlace");
        var png = ImageTools.MustRun("pnmtopng", args, Pnm(magic, w, h, 255, values));
        Assert.Equal(c == 3 ? 6 : 4, png[25]);
        var img = PngDecoder.Decode(png, "alpha.png");
        Assert.Equal(c, img.Channels);
        Assert.Equal(values.Select(v => (byte)v).ToArray(), img.Pixels);
    }

    [Theory]
    [InlineData(8, 2)]
    [InlineData(16, 6)]
    [InlineData(8, 4)]
    [InlineData(2, 0)]
    [InlineData(16, 0)]
    public void EveryFilter_PixelExact(int depth, int colorType)
    {
        int w = 11, h = 10; // ten rows: each filter twice
        int samples = colorType switch { 0 => 1, 2 => 3, 4 => 2, _ => 4 };
        int rowBytes = (w * samples * depth + 7) / 8;
        var rng = new Random(depth * 10 + colorType);
        var rows = new byte[h][];
        for (int y = 0; y < h; y++)
        {
            rows[y] = new byte[rowBytes];
            rng.NextBytes(rows[y]);
            if (depth < 8) rows[y][^1] &= unchecked((byte)(0xFF << (8 - (w * depth) % 8) % 8)); // zero padding bits
        }
        var img = PngDecoder.Decode(PngTestEncoder.Encode(w, h, depth, colorType, rows), "filters.png");
        int oc = colorType is 0 or 4 ? 1 : 3, bytesPerSample = depth == 16 ? 2 : 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < oc; c++)
                {
                    int expected = depth < 8
                        ? ((rows[y][x * depth / 8] >> (8 - depth - x * depth % 8)) & ((1 << depth) - 1)) * 255 / ((1 << depth) - 1)
                        : rows[y][(x * samples + c) * bytesPerSample];
                    Assert.Equal(expected, img[y, x, c]);
                }
    }

    private static byte[] SmallPng() =>
        PngTestEncoder.Encode(4, 3, 8, 2, Enumerable.Range(0, 3).Select(y => Enumerable.Range(0, 12).Select(i => (byte)(i * 20 + y)).ToArray()).ToArray());

    [Fact]
    public void BadSignature_ThrowsNamingFile()
    {
        var png = SmallPng();
        png[1] = (byte)'X';
        var e = Assert.Throws<ImageFormatException>(() => PngDecoder.Decode(png, "a.png"));
        Assert.StartsWith("a.png: PNG: bad signature", e.Message);
    }

    [Fact]
    public void CorruptChunk_ThrowsCrcMismatch()
    {
        var png = SmallPng();
        png[8 + 8 + 13 + 4 + 8 + 2] ^= 0x40; // a byte inside the first IDAT
        var e = Assert.Throws<ImageFormatException>(() => PngDecoder.Decode(png, "b.png"));
        Assert.Contains("b.png: PNG: CRC mismatch in chunk 'IDAT'", e.Message);
    }

    [Fact]
    public void TruncatedFile_ThrowsTruncated()
    {
        var png = SmallPng();
        var e = Assert.Throws<ImageFormatException>(() => PngDecoder.Decode(png.AsSpan(0, png.Length - 20), "c.png"));
        Assert.StartsWith("c.png: PNG: truncated", e.Message);
    }

    [Fact]
    public void TruncatedImageData_ThrowsNamingSizes()
    {
        // Valid chunks, but the compressed data holds one row fewer than the header promises.
        var rows = Enumerable.Range(0, 2).Select(y => new byte[12]).ToArray();
        var png = PngTestEncoder.Encode(4, 2, 8, 2, rows);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(8 + 8 + 4), 3); // height 3
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(8 + 8 + 13), PngTestEncoder.Crc(png.AsSpan(8 + 4, 17)));
        var e = Assert.Throws<ImageFormatException>(() => PngDecoder.Decode(png, "d.png"));
        Assert.Equal("d.png: PNG: truncated image data: expected 39 bytes after inflate, got 26", e.Message);
    }

    [Fact]
    public void ImageDecoder_DispatchesBySignature_AndRejectsOthers()
    {
        var img = ImageDecoder.Decode(SmallPng(), "named.jpg"); // a PNG with a .jpg name still decodes
        Assert.Equal((4, 3, 3), (img.Width, img.Height, img.Channels));
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode("GIF89a"u8.ToArray(), "x.png"));
        Assert.Equal("x.png: image: unknown format: expected a PNG (89 50 4E 47) or JPEG (FF D8 FF) signature, got 47494638", e.Message);
    }
}

/// <summary>Decoding into a reused (larger, dirty) buffer gives the same pixels as a fresh decode.</summary>
public class DecodeBufferReuseTests
{
    [Fact]
    public void Png_IntoDirtyLargerBuffer_SamePixels()
    {
        var rows = Enumerable.Range(0, 5).Select(y => Enumerable.Range(0, 21).Select(i => (byte)(i * 11 + y * 7)).ToArray()).ToArray();
        var png = PngTestEncoder.Encode(7, 5, 8, 2, rows);
        var fresh = PngDecoder.Decode(png, "p.png");
        var buffer = Enumerable.Repeat((byte)0xAB, 1000).ToArray();
        var reused = PngDecoder.Decode(png, "p.png", buffer);
        Assert.Same(buffer, reused.Pixels);
        Assert.Equal(fresh.Span.ToArray(), reused.Span.ToArray());
        Assert.Equal(105, reused.Length);
    }

    [Fact]
    public void Jpeg_IntoDirtyLargerBuffer_SamePixels()
    {
        if (!ImageTools.HasLibjpegTools) Assert.Fail("cjpeg not found (Debian package libjpeg-turbo-progs; test.sh installs it)");
        var jpeg = ImageTools.MustRun("cjpeg", ["-quality", "90"], ImageTools.Pnm(37, 21, 3, ImageTools.PhotoLike(37, 21, 3, 4)));
        var fresh = JpegDecoder.Decode(jpeg, "j.jpg");
        var buffer = Enumerable.Repeat((byte)0x5A, 5000).ToArray();
        var reused = JpegDecoder.Decode(jpeg, "j.jpg", buffer);
        Assert.Same(buffer, reused.Pixels);
        Assert.Equal(fresh.Span.ToArray(), reused.Span.ToArray());
        var small = JpegDecoder.Decode(jpeg, "j.jpg", new byte[10]); // too small: a new array
        Assert.Equal(fresh.Span.ToArray(), small.Pixels);
    }
}
