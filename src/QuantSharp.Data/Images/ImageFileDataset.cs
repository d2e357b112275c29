namespace QuantSharp.Data.Images;

/// <summary>
/// A data set of image files (PNG or JPEG) with one label each; <see cref="Get"/> decodes the file and runs the
/// <see cref="ImagePreprocessing"/>, so decoding happens inside the <see cref="DataLoader"/>'s background prefetch.
/// </summary>
public abstract class ImageFileDataset : IDataset
{
    private readonly (string Path, int Label)[] _samples;
    private readonly HashSet<int> _bad = [];
    private readonly List<string> _skipped = [];
    private readonly Action<string> _warn;

    [ThreadStatic] private static byte[]? t_pixels;

    /// <summary>Creates the data set over <paramref name="samples"/> (already subset).</summary>
    protected ImageFileDataset(string source, IEnumerable<(string Path, int Label)> samples, ImagePreprocessing preprocessing, ImageDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        ArgumentNullException.ThrowIfNull(options);
        preprocessing.Validate();
        Source = source;
        Preprocessing = preprocessing;
        Options = options;
        _samples = samples.ToArray();
        _warn = options.Warn ?? (m => Console.Error.WriteLine(m));
    }

    /// <summary>The folder the images come from.</summary>
    public string Source { get; }

    /// <summary>The preprocessing run on every image.</summary>
    public ImagePreprocessing Preprocessing { get; }

    /// <summary>Subset and error options.</summary>
    public ImageDatasetOptions Options { get; }

    /// <summary>Number of samples (after the subset).</summary>
    public int Count => _samples.Length;

    /// <summary>[C, CropHeight, CropWidth] of the preprocessing.</summary>
    public int[] SampleShape => Preprocessing.OutputShape;

    /// <summary>The files and labels, in sample order.</summary>
    public IReadOnlyList<(string Path, int Label)> Samples => _samples;

    /// <summary>Files skipped so far because they could not be decoded (with <see cref="ImageDatasetOptions.SkipUnreadable"/>).</summary>
    public IReadOnlyList<string> Skipped { get { lock (_bad) return _skipped.ToArray(); } }

    /// <summary>
    /// Decodes and preprocesses sample <paramref name="index"/> into <paramref name="destination"/> and returns its label.
    /// An unreadable file throws an <see cref="ImageFormatException"/> naming it; with
    /// <see cref="ImageDatasetOptions.SkipUnreadable"/> a warning names it instead and the next readable sample (in
    /// sample order, wrapping) takes its place, so the data set keeps its length.
    /// </summary>
    /// <exception cref="ImageFormatException">The file cannot be decoded (or no file at all can, when skipping).</exception>
    public int Get(int index, Span<float> destination)
    {
        if ((uint)index >= (uint)_samples.Length) throw new ArgumentOutOfRangeException(nameof(index), $"{Source}: sample index {index} out of range [0, {_samples.Length})");
        for (int tries = 0; tries < _samples.Length; tries++)
        {
            int i = (index + tries) % _samples.Length;
            lock (_bad) if (_bad.Contains(i)) continue;
            var (path, label) = _samples[i];
            DecodedImage image;
            try { image = ImageDecoder.Decode(Engine.IO.FileKind.ReadAllBytes(path, $"image '{path}'"), path, t_pixels); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                var error = e as ImageFormatException ?? new ImageFormatException(path, "image", $"cannot read: {e.Message}", e);
                if (!Options.SkipUnreadable) throw error;
                lock (_bad)
                {
                    if (_bad.Add(i)) _skipped.Add(path);
                }
                _warn($"warning: skipping unreadable image {error.Message}");
                continue;
            }
            t_pixels = image.Pixels; // reused by this thread's next decode (the image is consumed right here)
            Preprocessing.Apply(image, destination);
            return label;
        }
        throw new ImageFormatException(Source, "image", $"no readable image among the {_samples.Length} files");
    }

    /// <summary>Image files directly in <paramref name="folder"/> (by extension, case-insensitive), sorted ordinally.</summary>
    protected static string[] ImageFiles(string folder) =>
        Directory.EnumerateFiles(folder).Where(ImageDecoder.HasImageExtension).OrderBy(f => f, StringComparer.Ordinal).ToArray();
}
