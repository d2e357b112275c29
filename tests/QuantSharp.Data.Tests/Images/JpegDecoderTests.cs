using QuantSharp.Data.Images;

namespace QuantSharp.Data.Tests.Images;

/// <summary>
/// JPEG decoding against libjpeg-turbo: pictures generated here are encoded with <c>cjpeg</c> (baseline, progressive,
/// each sampling, gray, restart markers) and decoded both by <see cref="JpegDecoder"/> and by <c>djpeg -pnm</c>
/// (its default islow IDCT + fancy upsampling); every pixel must agree within ±1.
/// </summary>
public class JpegDecoderTests
{
    /// <summary>Fails the test when libjpeg-turbo's cjpeg/djpeg (the reference) are missing; test.sh installs them.</summary>
    private static void RequireLibjpegTools()
    {
        if (!ImageTools.HasLibjpegTools) Assert.Fail("cjpeg/djpeg not found (Debian package libjpeg-turbo-progs; test.sh installs it)");
    }

    // Encodes a generated picture with cjpeg and returns (jpeg bytes, djpeg's decode).
    private static (byte[] Jpeg, DecodedImage Reference) Encode(int w, int h, bool gray, int seed, params string[] cjpegArgs)
    {
        var pixels = ImageTools.PhotoLike(w, h, gray ? 1 : 3, seed);
        var jpeg = ImageTools.MustRun("cjpeg", cjpegArgs, ImageTools.Pnm(w, h, gray ? 1 : 3, pixels));
        var reference = ImageTools.ReadPnm(ImageTools.MustRun("djpeg", ["-pnm"], jpeg));
        return (jpeg, reference);
    }

    private static void AssertMatches(int w, int h, bool gray, int seed, params string[] cjpegArgs)
    {
        var (jpeg, reference) = Encode(w, h, gray, seed, cjpegArgs);
        var ours = JpegDecoder.Decode(jpeg, $"{w}x{h} {string.Join(' ', cjpegArgs)}");
        int diff = ImageTools.MaxDiff(ours, reference);
        Assert.True(diff <= 1, $"{w}x{h} cjpeg {string.Join(' ', cjpegArgs)}: max |ours − djpeg| = {diff} (allowed 1)");
    }

    [Theory]
    [InlineData(16, 16)]
    [InlineData(33, 17)]
    [InlineData(61, 47)]
    [InlineData(1, 1)]
    [InlineData(2, 9)]
    [InlineData(97, 35)]
    public void Baseline420_WithinOneOfLibjpeg(int w, int h)
    {
        RequireLibjpegTools();
        AssertMatches(w, h, false, w * 31 + h, "-quality", "90", "-sample", "2x2");
    }

    [Theory]
    [InlineData(24, 16)]
    [InlineData(37, 29)]
    public void Baseline444_WithinOneOfLibjpeg(int w, int h)
    {
        RequireLibjpegTools();
        AssertMatches(w, h, false, w + h, "-quality", "85", "-sample", "1x1");
    }

    [Theory]
    [InlineData(40, 24)]
    [InlineData(35, 13)]
    public void Baseline422_WithinOneOfLibjpeg(int w, int h)
    {
        RequireLibjpegTools();
        AssertMatches(w, h, false, w * h, "-quality", "75", "-sample", "2x1");
    }

    [Fact]
    public void Baseline440_WithinOneOfLibjpeg()
    {
        RequireLibjpegTools();
        AssertMatches(29, 35, false, 7, "-quality", "80", "-sample", "1x2");
    }

    [Theory]
    [InlineData(32, 32, "2x2")]
    [InlineData(45, 27, "2x2")]
    [InlineData(45, 27, "1x1")]
    [InlineData(30, 21, "2x1")]
    [InlineData(43, 26, "4x1")]  // replication upsampling (no fancy filter for 4:1)
    [InlineData(43, 26, "4x2")]
    public void Progressive_WithinOneOfLibjpeg(int w, int h, string sampling)
    {
        RequireLibjpegTools();
        AssertMatches(w, h, false, w - h, "-quality", "92", "-progressive", "-sample", sampling);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Grayscale_WithinOneOfLibjpeg(bool progressive)
    {
        RequireLibjpegTools();
        string[] args = progressive ? ["-quality", "90", "-progressive", "-grayscale"] : ["-quality", "90", "-grayscale"];
        var (jpeg, reference) = Encode(27, 19, false, 3, args);
        var ours = JpegDecoder.Decode(jpeg, "gray");
        Assert.Equal(1, ours.Channels);
        Assert.True(ImageTools.MaxDiff(ours, reference) <= 1);
    }

    [Fact]
    public void GrayInput_DecodesToOneChannel()
    {
        RequireLibjpegTools();
        AssertMatches(23, 31, true, 5, "-quality", "95");
    }

    [Theory]
    [InlineData("1", "")]
    [InlineData("3", "")]
    [InlineData("2", "-progressive")]
    public void RestartMarkers_WithinOneOfLibjpeg(string interval, string progressive)
    {
        RequireLibjpegTools();
        var args = new List<string> { "-quality", "88", "-sample", "2x2", "-restart", interval + "B" };
        if (progressive != "") args.Add(progressive);
        AssertMatches(57, 41, false, 11, [.. args]);
    }

    [Fact]
    public void HighQuality_AllCoefficientsUsed_WithinOneOfLibjpeg()
    {
        RequireLibjpegTools();
        AssertMatches(48, 40, false, 99, "-quality", "100", "-sample", "1x1");
        AssertMatches(48, 40, false, 98, "-quality", "100", "-progressive", "-sample", "2x2");
    }

    [Fact]
    public void Truncated_ThrowsNamingFile()
    {
        RequireLibjpegTools();
        var (jpeg, _) = Encode(40, 40, false, 1, "-quality", "90");
        var cut = jpeg.AsSpan(0, jpeg.Length / 2).ToArray();
        var e = Assert.Throws<ImageFormatException>(() => JpegDecoder.Decode(cut, "cut.jpg"));
        Assert.StartsWith("cut.jpg: JPEG:", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Arithmetic_ThrowsUnsupported()
    {
        RequireLibjpegTools();
        var pixels = ImageTools.PhotoLike(16, 16, 3, 2);
        int code = ImageTools.Run(ImageTools.Find("cjpeg")!, ["-arithmetic"], ImageTools.Pnm(16, 16, 3, pixels), out var jpeg);
        if (code != 0 || jpeg.Length == 0) Assert.Fail("cjpeg -arithmetic failed (Debian libjpeg-turbo-progs builds it with arithmetic coding)");
        var e = Assert.Throws<ImageFormatException>(() => JpegDecoder.Decode(jpeg, "arith.jpg"));
        Assert.True(e.Unsupported);
        Assert.Equal("arith.jpg: JPEG: unsupported arithmetic coding", e.Message);
    }

    [Fact]
    public void BadSignature_ThrowsNamingFile()
    {
        var e = Assert.Throws<ImageFormatException>(() => JpegDecoder.Decode([1, 2, 3, 4], "x.jpg"));
        Assert.Equal("x.jpg: JPEG: bad signature: expected FF D8 FF, got 010203", e.Message);
    }

    [Fact]
    public void TwelveBit_ThrowsUnsupported()
    {
        // A minimal SOI + SOF0 with precision 12.
        byte[] data = [0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 12, 0, 8, 0, 8, 1, 1, 0x11, 0, 0xFF, 0xD9];
        var e = Assert.Throws<ImageFormatException>(() => JpegDecoder.Decode(data, "deep.jpg"));
        Assert.True(e.Unsupported);
        Assert.Contains("12-bit", e.Message);
    }
}
