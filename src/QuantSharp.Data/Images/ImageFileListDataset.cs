namespace QuantSharp.Data.Images;

/// <summary>
/// A flat folder of unlabelled images (e.g. for calibration): every .png/.jpg/.jpeg file directly in the folder
/// (case-insensitive), sorted ordinally; <see cref="ImageFileDataset.Get"/> returns <see cref="NoLabel"/>.
/// </summary>
public sealed class ImageFileListDataset : ImageFileDataset
{
    /// <summary>The label returned for every sample: −1, no label.</summary>
    public const int NoLabel = -1;

    /// <summary>Lists <paramref name="folder"/> and applies the subset options.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">The folder holds no image (message names it).</exception>
    public ImageFileListDataset(string folder, ImagePreprocessing? preprocessing = null, ImageDatasetOptions? options = null)
        : this(folder, List(folder), preprocessing ?? new ImagePreprocessing(), options ?? new ImageDatasetOptions())
    {
    }

    /// <summary>A data set over the given files (labels <see cref="NoLabel"/>); <paramref name="source"/> names it in messages.</summary>
    public ImageFileListDataset(string source, IReadOnlyList<string> files, ImagePreprocessing? preprocessing = null, ImageDatasetOptions? options = null)
        : base(source, Subset(files, options ?? new ImageDatasetOptions()), preprocessing ?? new ImagePreprocessing(), options ?? new ImageDatasetOptions())
    {
    }

    private static IEnumerable<(string, int)> Subset(IReadOnlyList<string> files, ImageDatasetOptions options) =>
        options.SelectIndices(files.Count).Select(i => (files[i], NoLabel));

    private static string[] List(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: folder not found");
        var files = ImageFiles(folder);
        if (files.Length == 0) throw new InvalidDataException($"{folder}: no images found: expected .png/.jpg/.jpeg files");
        return files;
    }
}
