namespace QuantSharp.Data.Images;

/// <summary>
/// A decoded 8-bit image: <see cref="Height"/> rows of <see cref="Width"/> pixels, each of <see cref="Channels"/>
/// interleaved bytes (1 = gray, 3 = R, G, B), row-major with no row padding.
/// </summary>
public sealed class DecodedImage
{
    /// <summary>Wraps <paramref name="pixels"/> (at least <c>width·height·channels</c> bytes, not copied; a longer
    /// buffer — a reused one — holds the image in its first <c>width·height·channels</c> bytes).</summary>
    /// <exception cref="ArgumentException">The dimensions are not positive, channels is not 1 or 3, or the buffer is too short.</exception>
    public DecodedImage(int width, int height, int channels, byte[] pixels)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"DecodedImage: argument 'width/height' expected >= 1, got {width}x{height}");
        if (channels is not (1 or 3)) throw new ArgumentException($"DecodedImage: argument 'channels' expected 1 or 3, got {channels}");
        if (pixels.Length < (long)width * height * channels)
            throw new ArgumentException($"DecodedImage: argument 'pixels' expected {(long)width * height * channels} bytes for {width}x{height}x{channels}, got {pixels.Length}");
        Width = width;
        Height = height;
        Channels = channels;
        Pixels = pixels;
    }

    /// <summary>Pixels per row.</summary>
    public int Width { get; }

    /// <summary>Rows.</summary>
    public int Height { get; }

    /// <summary>Bytes per pixel: 1 (gray) or 3 (RGB).</summary>
    public int Channels { get; }

    /// <summary>The interleaved pixel bytes, row-major (the first <see cref="Length"/> bytes are the image).</summary>
    public byte[] Pixels { get; }

    /// <summary>Bytes of the image: Width·Height·Channels.</summary>
    public int Length => Width * Height * Channels;

    /// <summary>The image bytes as a span of exactly <see cref="Length"/> bytes.</summary>
    public Span<byte> Span => Pixels.AsSpan(0, Length);

    /// <summary>The byte of channel <paramref name="c"/> at row <paramref name="y"/>, column <paramref name="x"/>.</summary>
    public byte this[int y, int x, int c] => Pixels[(y * Width + x) * Channels + c];
}
