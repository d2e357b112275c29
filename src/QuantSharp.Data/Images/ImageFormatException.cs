namespace QuantSharp.Data.Images;

/// <summary>
/// An image file could not be decoded: bad signature, bad checksum, truncated data, or a feature this decoder does not
/// support. The message starts with the file name and says what is wrong.
/// </summary>
public sealed class ImageFormatException : IOException
{
    /// <summary>Creates the error for <paramref name="file"/>: <c>"{file}: {format}: {problem}"</c>.</summary>
    public ImageFormatException(string file, string format, string problem, Exception? inner = null)
        : base($"{file}: {format}: {problem}", inner)
    {
        File = file;
        Unsupported = false;
    }

    private ImageFormatException(string file, string message, bool unsupported)
        : base(message)
    {
        File = file;
        Unsupported = unsupported;
    }

    /// <summary>The file (or stream name) that failed.</summary>
    public string File { get; }

    /// <summary>True when the file is valid but uses a feature this decoder does not implement.</summary>
    public bool Unsupported { get; }

    /// <summary>An error for a valid file using an unsupported feature: <c>"{file}: {format}: unsupported {feature}"</c>.</summary>
    public static ImageFormatException NotSupported(string file, string format, string feature) =>
        new(file, $"{file}: {format}: unsupported {feature}", unsupported: true);
}
