namespace QuantSharp.Data.Images;

/// <summary>Decodes PNG or JPEG files, choosing the decoder by content (signature), not by extension.</summary>
public static class ImageDecoder
{
    /// <summary>File extensions treated as images when listing folders (case-insensitive): .png, .jpg, .jpeg.</summary>
    public static readonly IReadOnlyList<string> Extensions = [".png", ".jpg", ".jpeg"];

    /// <summary>True when <paramref name="path"/> has one of the <see cref="Extensions"/> (case-insensitive).</summary>
    public static bool HasImageExtension(string path) =>
        Extensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>Decodes the image file at <paramref name="path"/> (PNG or JPEG by signature).</summary>
    /// <exception cref="ImageFormatException">Not a PNG or JPEG, or invalid / truncated / unsupported; the message names the file.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static DecodedImage Decode(string path) => Decode(Engine.IO.FileKind.ReadAllBytes(path, $"image '{path}'"), path);

    /// <summary>
    /// Decodes image bytes (PNG or JPEG by signature); <paramref name="name"/> is used in error messages. A
    /// <paramref name="buffer"/> large enough receives the pixels (see <see cref="JpegDecoder.Decode(byte[], string, byte[])"/>).
    /// </summary>
    /// <exception cref="ImageFormatException">Not a PNG or JPEG, or invalid / truncated / unsupported.</exception>
    public static DecodedImage Decode(byte[] data, string name = "<memory>", byte[]? buffer = null)
    {
        if (PngDecoder.IsPng(data)) return PngDecoder.Decode(data, name, buffer);
        if (JpegDecoder.IsJpeg(data)) return JpegDecoder.Decode(data, name, buffer);
        throw new ImageFormatException(name, "image", $"unknown format: expected a PNG (89 50 4E 47) or JPEG (FF D8 FF) signature, got {Convert.ToHexString(data.AsSpan(0, Math.Min(4, data.Length)))}");
    }

    /// <summary>Reads only the header of an image file: (width, height, decoded channels).</summary>
    /// <exception cref="ImageFormatException">Not a PNG or JPEG, or an invalid header.</exception>
    public static (int Width, int Height, int Channels) ReadHeader(string path)
    {
        var data = Engine.IO.FileKind.ReadAllBytes(path, $"image '{path}'");
        if (PngDecoder.IsPng(data)) return PngDecoder.ReadHeader(data, path);
        if (JpegDecoder.IsJpeg(data)) return JpegDecoder.ReadHeader(data, path);
        throw new ImageFormatException(path, "image", $"unknown format: expected a PNG (89 50 4E 47) or JPEG (FF D8 FF) signature, got {Convert.ToHexString(data.AsSpan(0, Math.Min(4, data.Length)))}");
    }
}
