namespace QuantSharp.Data.Images;

/// <summary>
/// The standard classification preprocessing with torchvision semantics: channel conversion, resize of the shorter
/// side (antialiased bilinear), center crop, scale to [0, 1], per-channel normalization; output float32 [C, H, W].
/// </summary>
/// <remarks>
/// <para>Steps, in order (torchvision's <c>ImageFolder</c> loader + <c>Resize(S)</c>, <c>CenterCrop</c>,
/// <c>ToTensor</c>, <c>Normalize</c>):</para>
/// <list type="number">
/// <item>Channels: gray → 3 by replication when <see cref="Channels"/> is 3; RGB → 1 by ITU-R 601 luma with PIL's
/// rounding, L = (19595·R + 38470·G + 7471·B + 2^15) &gt;&gt; 16, when it is 1.</item>
/// <item>Resize (when <see cref="ResizeShorter"/> &gt; 0): the shorter side becomes S, the longer ⌊S·long/short⌋
/// (torchvision). Each axis is filtered separably with PIL's antialiased bilinear: for output pixel i, the source
/// centre is (i + ½)·scale, scale = in/out; the triangle filter's support is max(scale, 1); the tap at source pixel j
/// weighs tri((j + ½ − centre)/max(scale, 1)), tri(t) = max(0, 1 − |t|), and the weights are normalised to sum 1.
/// Computed in float without rounding between the passes (torchvision's tensor path; PIL's 8-bit path rounds after
/// each pass, which differs by at most ½ a grey level per pass).</item>
/// <item>Center crop to <see cref="CropHeight"/>×<see cref="CropWidth"/>: top = round((H − h)/2), left likewise, with
/// round-half-to-even as Python's <c>round</c>; a side smaller than the crop is padded with zeros, ⌊(crop − size)/2⌋
/// before (torchvision pads, then crops).</item>
/// <item>out[c] = (v·<see cref="Scale"/> − mean[c]) / std[c] (one mean/std value applies to every channel).</item>
/// </list>
/// </remarks>
public sealed record ImagePreprocessing
{
    /// <summary>ImageNet's channel means (RGB), as used by torchvision's pretrained models.</summary>
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet's channel standard deviations (RGB).</summary>
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>Target length of the shorter side; 0 = no resize.</summary>
    public int ResizeShorter { get; init; } = 256;

    /// <summary>Crop height (required, &gt; 0: every sample has the same shape).</summary>
    public int CropHeight { get; init; } = 224;

    /// <summary>Crop width (required, &gt; 0).</summary>
    public int CropWidth { get; init; } = 224;

    /// <summary>Channels the model wants: 1 (gray) or 3 (RGB).</summary>
    public int Channels { get; init; } = 3;

    /// <summary>Multiplier taking byte values to [0, 1] (default 1/255).</summary>
    public float Scale { get; init; } = 1f / 255f;

    /// <summary>Per-channel means subtracted after scaling (1 value or <see cref="Channels"/> values).</summary>
    public float[] Mean { get; init; } = ImageNetMean;

    /// <summary>Per-channel standard deviations divided by (1 value or <see cref="Channels"/> values, all &gt; 0).</summary>
    public float[] Std { get; init; } = ImageNetStd;

    /// <summary>Shape of one output sample: [C, CropHeight, CropWidth].</summary>
    public int[] OutputShape => [Channels, CropHeight, CropWidth];

    /// <summary>Checks the settings; the message names the setting, expected and actual values.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (Channels is not (1 or 3)) throw new ArgumentException($"ImagePreprocessing: setting 'Channels' expected 1 or 3, got {Channels}");
        if (CropHeight < 1 || CropWidth < 1) throw new ArgumentException($"ImagePreprocessing: setting 'Crop' expected >= 1, got {CropHeight}x{CropWidth}");
        if (ResizeShorter < 0) throw new ArgumentException($"ImagePreprocessing: setting 'ResizeShorter' expected >= 0, got {ResizeShorter}");
        CheckStats(Mean, Std, Channels);
    }

    /// <summary>Checks a mean/std pair against a channel count (1 value broadcasts).</summary>
    /// <exception cref="ArgumentException">Lengths do not fit or a std is not positive.</exception>
    public static void CheckStats(float[] mean, float[] std, int channels)
    {
        if (mean.Length is not 1 && mean.Length != channels) throw new ArgumentException($"ImagePreprocessing: setting 'Mean' expected 1 or {channels} values, got {mean.Length}");
        if (std.Length is not 1 && std.Length != channels) throw new ArgumentException($"ImagePreprocessing: setting 'Std' expected 1 or {channels} values, got {std.Length}");
        if (std.Any(s => !(s > 0))) throw new ArgumentException($"ImagePreprocessing: setting 'Std' expected values > 0, got [{string.Join(", ", std)}]");
    }

    /// <summary>Size (height, width) after the resize step for an input of <paramref name="height"/>×<paramref name="width"/>.</summary>
    public (int Height, int Width) ResizedSize(int height, int width)
    {
        if (ResizeShorter <= 0) return (height, width);
        int s = ResizeShorter;
        return height <= width ? (s, (int)((long)s * width / height)) : ((int)((long)s * height / width), s);
    }

    /// <summary>Runs every step on <paramref name="image"/> and writes [C, CropHeight, CropWidth] floats to <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The destination is too small or a setting is invalid.</exception>
    public void Apply(DecodedImage image, Span<float> destination)
    {
        Validate();
        int c = Channels, oh = CropHeight, ow = CropWidth;
        if (destination.Length < c * oh * ow) throw new ArgumentException($"ImagePreprocessing: argument 'destination' expected >= {c * oh * ow} floats, got {destination.Length}");
        // Per-thread scratch buffers: fresh large arrays per image cost page faults that dominate on some VMs.
        var s = t_scratch ??= new Scratch();
        int n = image.Width * image.Height * c;
        if (image.Channels != c && (s.Converted is null || s.Converted.Length < n)) s.Converted = new byte[n];
        var src = ImageResize.ConvertChannels(image, c, s.Converted);
        var (rh, rw) = ResizedSize(image.Height, image.Width);
        int top = CropOffset(rh, oh), left = CropOffset(rw, ow);
        ImageResizeFused.Run(src, image.Width, image.Height, c, rw, rh, top, left, ow, oh, Scale, Mean, Std, destination, s.Fused);
    }

    [ThreadStatic] private static Scratch? t_scratch;

    private sealed class Scratch
    {
        public byte[]? Converted;
        public readonly ImageResizeFused.Scratch Fused = new();
    }

    /// <summary>
    /// Offset of the crop window in a side of <paramref name="size"/>: round-half-even((size − crop)/2), or
    /// −⌊(crop − size)/2⌋ (zero padding) when the crop is larger.
    /// </summary>
    public static int CropOffset(int size, int crop) =>
        crop > size ? -((crop - size) / 2) : (int)Math.Round((size - crop) / 2.0, MidpointRounding.ToEven);
}
