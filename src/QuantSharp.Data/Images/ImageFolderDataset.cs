namespace QuantSharp.Data.Images;

/// <summary>
/// An ImageNet-style labelled folder, like torchvision's <c>ImageFolder</c>: <c>root/&lt;class&gt;/&lt;image&gt;</c>,
/// classes are the sub-folder names sorted ordinally, a file's label is its class index, and files are .png/.jpg/.jpeg
/// (case-insensitive), taken in sorted order within each class.
/// </summary>
public sealed class ImageFolderDataset : ImageFileDataset
{
    /// <summary>Lists <paramref name="root"/> and applies the subset options.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">No class sub-folder holds an image (message names the folder).</exception>
    public ImageFolderDataset(string root, ImagePreprocessing? preprocessing = null, ImageDatasetOptions? options = null)
        : this(root, List(root), preprocessing ?? new ImagePreprocessing(), options ?? new ImageDatasetOptions())
    {
    }

    private ImageFolderDataset(string root, (string[] Classes, (string, int)[] Files) listing, ImagePreprocessing preprocessing, ImageDatasetOptions options)
        : base(root, options.SelectIndices(listing.Files.Length).Select(i => listing.Files[i]), preprocessing, options)
    {
        Classes = listing.Classes;
    }

    /// <summary>Class names (sub-folder names), in label order.</summary>
    public IReadOnlyList<string> Classes { get; }

    private static (string[], (string, int)[]) List(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: folder not found");
        var classes = Directory.EnumerateDirectories(root).Select(Path.GetFileName).OfType<string>()
            .OrderBy(n => n, StringComparer.Ordinal).ToArray();
        var files = new List<(string, int)>();
        for (int c = 0; c < classes.Length; c++)
            foreach (var f in ImageFiles(Path.Combine(root, classes[c]))) files.Add((f, c));
        if (files.Count == 0)
            throw new InvalidDataException($"{root}: no images found: expected class sub-folders holding .png/.jpg/.jpeg files");
        return (classes, files.ToArray());
    }
}
