using QuantSharp.Data.Images;

namespace QuantSharp.Data.Tests.Images;

/// <summary>Preprocessing golden tests on small hand-made images (values worked out by hand or recorded from torchvision).</summary>
public class ImagePreprocessingTests
{
    // 7 wide × 5 high gray ramp: v = 7·(y·7 + x).
    private static DecodedImage Ramp() => new(7, 5, 1, Enumerable.Range(0, 35).Select(i => (byte)(7 * i)).ToArray());

    private static float[] Resize(DecodedImage img, int oh, int ow) =>
        ImageResize.ResizeWindow(img.Pixels, img.Width, img.Height, img.Channels, ow, oh, 0, 0, ow, oh);

    [Fact]
    public void Downscale_ByTwo_UsesWidenedTriangle()
    {
        // 4 → 2: output 0 is centred at 1.0 with support 2: taps x=0,1,2 weigh 0.75, 0.75, 0.25 (÷ 1.75).
        var img = new DecodedImage(4, 1, 1, [0, 70, 140, 210]);
        var o = Resize(img, 1, 2);
        Assert.Equal((0 * 0.75 + 70 * 0.75 + 140 * 0.25) / 1.75, o[0], 3);
        Assert.Equal((70 * 0.25 + 140 * 0.75 + 210 * 0.75) / 1.75, o[1], 3);
    }

    [Theory]
    // Recorded from torch 1.13: F.interpolate(x, size, mode="bilinear", antialias=True, align_corners=False).
    [InlineData(2, 3, new float[] { 55, 70, 85, 153, 168, 183 })]
    [InlineData(3, 4, new float[] { 24.6667f, 35.56f, 48.44f, 59.3333f, 101.6667f, 112.56f, 125.44f, 136.3333f, 178.6667f, 189.56f, 202.44f, 213.3333f })]
    [InlineData(5, 3, new float[] { 6, 21, 36, 55, 70, 85, 104, 119, 134, 153, 168, 183, 202, 217, 232 })]
    public void AntialiasedBilinear_MatchesTorchvision(int oh, int ow, float[] expected)
    {
        var o = Resize(Ramp(), oh, ow);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], o[i], 3);
    }

    [Fact]
    public void Upscale_MatchesTorchvisionBilinear()
    {
        // 7×5 → 11×9, first row and last value (torch 1.13, antialias=True = plain bilinear when upscaling).
        float[] row0 = [0f, 3.1818f, 7.6364f, 12.0909f, 16.5455f, 21f, 25.4545f, 29.9091f, 34.3636f, 38.8182f, 42f];
        var o = Resize(Ramp(), 9, 11);
        for (int i = 0; i < 11; i++) Assert.Equal(row0[i], o[i], 3);
        Assert.Equal(238f, o[^1], 3);
        Assert.Equal(98f, o[4 * 11], 3);
    }

    [Fact]
    public void ResizedSize_ShorterSideBecomesS_LongerTruncates()
    {
        var p = new ImagePreprocessing { ResizeShorter = 256 };
        Assert.Equal((256, 341), p.ResizedSize(480, 640)); // 256·640/480 = 341.33
        Assert.Equal((384, 256), p.ResizedSize(300, 200));
        Assert.Equal((256, 256), p.ResizedSize(100, 100));
    }

    [Theory]
    [InlineData(10, 4, 3)]
    [InlineData(9, 4, 2)]   // (9−4)/2 = 2.5 → 2 (half to even, as Python's round)
    [InlineData(11, 4, 4)]  // 3.5 → 4
    [InlineData(3, 6, -1)]  // padded: ⌊(6−3)/2⌋ = 1 zero before
    public void CropOffset_RoundsHalfToEven_PadsWhenSmaller(int size, int crop, int expected) =>
        Assert.Equal(expected, ImagePreprocessing.CropOffset(size, crop));

    [Fact]
    public void Apply_CropScaleNormalize_ChwLayout()
    {
        // 4×3 RGB, no resize, crop 2×2 at top = round(0.5)=0, left = round(1)=1.
        var px = new byte[4 * 3 * 3];
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
                for (int c = 0; c < 3; c++) px[(y * 4 + x) * 3 + c] = (byte)(100 * c + 10 * y + x);
        var p = new ImagePreprocessing { ResizeShorter = 0, CropHeight = 2, CropWidth = 2, Mean = [0.5f, 0.25f, 0f], Std = [0.5f, 0.25f, 1f] };
        var o = new float[12];
        p.Apply(new DecodedImage(4, 3, 3, px), o);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 2; y++)
                for (int x = 0; x < 2; x++)
                {
                    float v = (100 * c + 10 * y + x + 1) / 255f;
                    Assert.Equal((v - p.Mean[c]) / p.Std[c], o[(c * 2 + y) * 2 + x], 5);
                }
    }

    [Fact]
    public void Apply_CropLargerThanImage_PadsWithZeroBeforeNormalize()
    {
        var img = new DecodedImage(1, 1, 1, [255]);
        var p = new ImagePreprocessing { ResizeShorter = 0, CropHeight = 3, CropWidth = 2, Channels = 1, Mean = [0.5f], Std = [0.5f] };
        var o = new float[6];
        p.Apply(img, o);
        // left pad ⌊(2−1)/2⌋ = 0, top pad ⌊(3−1)/2⌋ = 1: the pixel lands at (1, 0).
        Assert.Equal(new float[] { -1, -1, 1, -1, -1, -1 }, o);
    }

    [Fact]
    public void Apply_GrayToThreeChannels_Replicates()
    {
        var img = new DecodedImage(2, 2, 1, [0, 51, 102, 255]);
        var p = new ImagePreprocessing { ResizeShorter = 0, CropHeight = 2, CropWidth = 2, Mean = [0f], Std = [1f] };
        var o = new float[12];
        p.Apply(img, o);
        for (int c = 0; c < 3; c++) Assert.Equal(new[] { 0f, 0.2f, 0.4f, 1f }, o.AsSpan(c * 4, 4).ToArray().Select(v => MathF.Round(v, 5)));
    }

    [Fact]
    public void Apply_RgbToOneChannel_UsesRec601LumaWithPilRounding()
    {
        var img = new DecodedImage(2, 1, 3, [255, 0, 0, 10, 200, 30]);
        var p = new ImagePreprocessing { ResizeShorter = 0, CropHeight = 1, CropWidth = 2, Channels = 1, Mean = [0f], Std = [1f], Scale = 1f };
        var o = new float[2];
        p.Apply(img, o);
        Assert.Equal(76f, o[0]);   // (19595·255 + 2^15) >> 16 = 76
        Assert.Equal((19595 * 10 + 38470 * 200 + 7471 * 30 + 32768) >> 16, (int)o[1]); // 124
    }

    [Fact]
    public void Apply_FullPipeline_ShapeAndCentreValue()
    {
        // A flat 40×30 image of value 128 stays 128 everywhere after resize to shorter side 16 and crop 8×8.
        var img = new DecodedImage(40, 30, 3, Enumerable.Repeat((byte)128, 40 * 30 * 3).ToArray());
        var p = new ImagePreprocessing { ResizeShorter = 16, CropHeight = 8, CropWidth = 8 };
        Assert.Equal(new[] { 3, 8, 8 }, p.OutputShape);
        var o = new float[3 * 64];
        p.Apply(img, o);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 64; i++) Assert.Equal((128f / 255 - p.Mean[c]) / p.Std[c], o[c * 64 + i], 4);
    }

    [Fact]
    public void Validate_BadSettings_NameTheSetting()
    {
        var e = Assert.Throws<ArgumentException>(() => new ImagePreprocessing { Channels = 2 }.Validate());
        Assert.Equal("ImagePreprocessing: setting 'Channels' expected 1 or 3, got 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => new ImagePreprocessing { Channels = 1 }.Validate());
        Assert.Equal("ImagePreprocessing: setting 'Mean' expected 1 or 1 values, got 3", e.Message);
        e = Assert.Throws<ArgumentException>(() => new ImagePreprocessing { Std = [1, 0, 1] }.Validate());
        Assert.Contains("'Std' expected values > 0", e.Message);
    }
}

/// <summary>The fused, vectorized preprocessing agrees with the two-pass reference resize + normalize.</summary>
public class ImagePreprocessingFusedTests
{
    [Theory]
    [InlineData(37, 23, 3, 16, 12, 12)]   // downscale, crop inside
    [InlineData(9, 13, 1, 20, 15, 24)]    // upscale, crop wider than the image (padding)
    [InlineData(64, 48, 3, 0, 40, 50)]    // no resize, crop inside then padded horizontally
    [InlineData(101, 57, 3, 31, 31, 31)]  // odd sizes, vector tail
    [InlineData(5, 5, 3, 5, 3, 3)]        // same size: no resize on either axis
    public void Fused_MatchesTwoPassReference(int w, int h, int channels, int resize, int cropH, int cropW)
    {
        var rng = new Random(w * 100 + h);
        var px = new byte[w * h * channels];
        rng.NextBytes(px);
        var img = new DecodedImage(w, h, channels, px);
        var p = new ImagePreprocessing { ResizeShorter = resize, CropHeight = cropH, CropWidth = cropW, Channels = channels,
            Mean = channels == 3 ? [0.4f, 0.5f, 0.6f] : [0.3f], Std = channels == 3 ? [0.2f, 0.25f, 0.3f] : [0.7f] };
        var fused = new float[channels * cropH * cropW];
        p.Apply(img, fused);

        var (rh, rw) = p.ResizedSize(h, w);
        var window = ImageResize.ResizeWindow(px, w, h, channels, rw, rh, ImagePreprocessing.CropOffset(rh, cropH), ImagePreprocessing.CropOffset(rw, cropW), cropW, cropH);
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < cropH * cropW; i++)
            {
                float v = window[i * channels + c];
                float expected = ((float.IsNaN(v) ? 0 : v) / 255f - p.Mean[c]) / p.Std[c];
                Assert.True(Math.Abs(expected - fused[c * cropH * cropW + i]) <= 1e-4f * Math.Max(1, Math.Abs(expected)),
                    $"channel {c} pixel {i}: reference {expected}, fused {fused[c * cropH * cropW + i]}");
            }
    }
}
