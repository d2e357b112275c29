using QuantSharp.Data.Images;
using QuantSharp.Engine;

namespace QuantSharp.Data;

/// <summary>
/// Decides what a command line's <c>--data PATH [--labels FILE]</c> refers to and opens it as an <see cref="IDataset"/>.
/// </summary>
/// <remarks>
/// <para>Detection, in order: a <c>.npy</c> file → <see cref="DataSourceKind.Npy"/>; a folder holding
/// <c>*-images-idx3-ubyte[.gz]</c> → <see cref="DataSourceKind.Idx"/> (the <c>t10k</c> split when present, else
/// <c>train</c>, else the first; labels from the matching <c>*-labels-idx1-ubyte[.gz]</c>); a folder whose
/// sub-folders hold images → <see cref="DataSourceKind.ImageFolder"/>; a folder holding images →
/// <see cref="DataSourceKind.ImageList"/>. Anything else is a <see cref="DataSourceException"/> naming the path and
/// what was expected.</para>
/// <para>Values: image files go through the <see cref="ImagePreprocessing"/> (decode, resize, crop, scale,
/// normalize). Arrays are used at their own size (no resize or crop): float32 <c>.npy</c> images [N,C,H,W] (or
/// [N,H,W]) are used as given; unsigned-byte arrays (IDX, uint8 <c>.npy</c>) are scaled by 1/255 and then normalized
/// with the preprocessing's Mean/Std — when no preprocessing is passed, only scaled.</para>
/// <para>Labels for a flat image folder (<c>--labels</c>): a <c>.npy</c> of N integers in the folder's sorted file
/// order, or a text file with one line per image, either <c>label</c> (sorted order) or <c>file-name label</c>.</para>
/// </remarks>
public static class DataSourceResolver
{
    private const string Expected = "expected a folder of class sub-folders with .png/.jpg/.jpeg images, a flat folder of images, a folder with IDX files (*-images-idx3-ubyte[.gz]), or an .npy file";

    /// <summary>Detects the kind of data at <paramref name="path"/> without reading the images.</summary>
    /// <exception cref="DataSourceException">Missing, empty, or of unknown format.</exception>
    public static DataSourceKind Detect(string path)
    {
        if (File.Exists(path))
        {
            if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return DataSourceKind.Npy;
            throw new DataSourceException(path, $"unknown data format (a file that is not .npy): {Expected}");
        }
        if (!Directory.Exists(path)) throw new DataSourceException(path, $"not found: {Expected}");
        if (IdxImageFiles(path).Length > 0) return DataSourceKind.Idx;
        if (Directory.EnumerateDirectories(path).Any(d => Directory.EnumerateFiles(d).Any(ImageDecoder.HasImageExtension)))
            return DataSourceKind.ImageFolder;
        if (Directory.EnumerateFiles(path).Any(ImageDecoder.HasImageExtension)) return DataSourceKind.ImageList;
        bool empty = !Directory.EnumerateFileSystemEntries(path).Any();
        throw new DataSourceException(path, empty ? $"folder is empty: {Expected}" : $"no images or data files found: {Expected}");
    }

    /// <summary>
    /// Opens <paramref name="path"/> (see remarks) with an optional <paramref name="labelsPath"/>, preprocessing and
    /// subset options. With <paramref name="requireLabels"/>, a source without labels is an error.
    /// </summary>
    /// <exception cref="DataSourceException">Missing, empty, unknown format, labels missing or not matching.</exception>
    public static DataSource Open(string path, string? labelsPath = null, ImagePreprocessing? preprocessing = null,
        ImageDatasetOptions? options = null, bool requireLabels = false)
    {
        options ??= new ImageDatasetOptions();
        if (labelsPath is not null && !File.Exists(labelsPath)) throw new DataSourceException(labelsPath, "labels file not found");
        var kind = Detect(path);
        DataSource source;
        try
        {
            source = kind switch
            {
                DataSourceKind.Npy => OpenNpy(path, labelsPath, preprocessing, options),
                DataSourceKind.Idx => OpenIdx(path, labelsPath, preprocessing, options),
                DataSourceKind.ImageFolder => OpenFolder(path, labelsPath, preprocessing, options),
                _ => OpenList(path, labelsPath, preprocessing, options),
            };
        }
        catch (Exception e) when (e is IOException or ArgumentException or ShapeException or FormatException)
        {
            throw new DataSourceException(path, e.Message, e);
        }
        if (requireLabels && !source.HasLabels)
            throw new DataSourceException(path, kind switch
            {
                DataSourceKind.Npy => "labels missing: pass --labels LABELS.npy (integers [N])",
                DataSourceKind.Idx => "labels missing: expected a *-labels-idx1-ubyte[.gz] file next to the images, or --labels",
                _ => "labels missing: expected class sub-folders (ImageFolder layout) or --labels FILE",
            });
        return source;
    }

    private static DataSource OpenFolder(string path, string? labelsPath, ImagePreprocessing? pre, ImageDatasetOptions options)
    {
        if (labelsPath is not null) throw new DataSourceException(labelsPath, "--labels is not used with class sub-folders (labels come from the folder names)");
        var ds = new ImageFolderDataset(path, pre, options);
        return new DataSource(DataSourceKind.ImageFolder, path, ds, true, ds.Classes, ds.Samples.Select(s => s.Path).ToArray());
    }

    private static DataSource OpenList(string path, string? labelsPath, ImagePreprocessing? pre, ImageDatasetOptions options)
    {
        var files = Directory.EnumerateFiles(path).Where(ImageDecoder.HasImageExtension).OrderBy(f => f, StringComparer.Ordinal).ToArray();
        if (labelsPath is null)
        {
            var list = new ImageFileListDataset(path, files, pre, options);
            return new DataSource(DataSourceKind.ImageList, path, list, false, null, list.Samples.Select(s => s.Path).ToArray());
        }
        var labels = ReadListLabels(labelsPath, files);
        var keep = options.SelectIndices(files.Length);
        var ds = new LabelledFiles(path, keep.Select(i => (files[i], labels[i])), pre ?? new ImagePreprocessing(), options);
        return new DataSource(DataSourceKind.ImageList, path, ds, true, null, [.. ds.Samples.Select(s => s.Path), labelsPath]);
    }

    private sealed class LabelledFiles(string source, IEnumerable<(string, int)> samples, ImagePreprocessing pre, ImageDatasetOptions options)
        : ImageFileDataset(source, samples, pre, options);

    private static int[] ReadListLabels(string labelsPath, string[] files)
    {
        int[] labels;
        if (labelsPath.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) labels = ReadLabelsNpy(labelsPath, files.Length);
        else
        {
            var lines = Engine.IO.FileKind.ReadAllText(labelsPath, $"labels '{labelsPath}'").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
            var byName = new Dictionary<string, int>(StringComparer.Ordinal);
            var ordered = new List<int>();
            foreach (var line in lines)
            {
                var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 1 && int.TryParse(parts[0], out int v)) ordered.Add(v);
                else if (parts.Length == 2 && int.TryParse(parts[1], out int w)) byName[parts[0]] = w;
                else throw new DataSourceException(labelsPath, $"labels line '{line}' expected 'label' or 'file-name label'");
            }
            if (byName.Count > 0 && ordered.Count > 0) throw new DataSourceException(labelsPath, "labels file mixes 'label' and 'file-name label' lines");
            if (byName.Count > 0)
                labels = files.Select(f => byName.TryGetValue(Path.GetFileName(f), out int l) ? l
                    : throw new DataSourceException(labelsPath, $"labels missing for image {Path.GetFileName(f)}")).ToArray();
            else labels = ordered.ToArray();
        }
        if (labels.Length != files.Length) throw new DataSourceException(labelsPath, $"expected {files.Length} labels (one per image), got {labels.Length}");
        return labels;
    }

    private static int[] ReadLabelsNpy(string labelsPath, int n)
    {
        var t = TensorOps.Cast<int>(Npy.Read(labelsPath));
        if (!(t.Rank == 1 || (t.Rank == 2 && t.Dims[1] == 1)) || t.Dims[0] != n)
            throw new DataSourceException(labelsPath, $"expected labels [{n}], got {Shapes.Format(t.Dims)}");
        return t.Data;
    }

    private static string[] IdxImageFiles(string dir) =>
        Directory.EnumerateFiles(dir).Where(f => Path.GetFileName(f) is var n && (n.EndsWith("-images-idx3-ubyte", StringComparison.Ordinal) || n.EndsWith("-images-idx3-ubyte.gz", StringComparison.Ordinal)))
            .OrderBy(f => f, StringComparer.Ordinal).ToArray();

    private static DataSource OpenIdx(string path, string? labelsPath, ImagePreprocessing? pre, ImageDatasetOptions options)
    {
        var all = IdxImageFiles(path);
        string images = all.FirstOrDefault(f => Path.GetFileName(f).StartsWith("t10k-", StringComparison.Ordinal))
            ?? all.FirstOrDefault(f => Path.GetFileName(f).StartsWith("train-", StringComparison.Ordinal)) ?? all[0];
        if (labelsPath is null)
        {
            string stem = images.EndsWith(".gz", StringComparison.Ordinal) ? images[..^3] : images;
            stem = stem[..^"-images-idx3-ubyte".Length] + "-labels-idx1-ubyte";
            labelsPath = File.Exists(stem) ? stem : File.Exists(stem + ".gz") ? stem + ".gz" : null;
        }
        var bytes = Idx.ReadBytes(images);
        if (bytes.Rank != 3) throw new DataSourceException(images, $"expected IDX images [N,H,W], got {Shapes.Format(bytes.Dims)}");
        int[]? labels = null;
        if (labelsPath is not null)
        {
            if (labelsPath.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) labels = ReadLabelsNpy(labelsPath, bytes.Dims[0]);
            else
            {
                var l = Idx.ReadBytes(labelsPath);
                if (l.Rank != 1 || l.Dims[0] != bytes.Dims[0]) throw new DataSourceException(labelsPath, $"expected IDX labels [{bytes.Dims[0]}], got {Shapes.Format(l.Dims)}");
                labels = l.Data.Select(b => (int)b).ToArray();
            }
        }
        var floats = TensorOps.Cast<float>(bytes).Reshape(bytes.Dims[0], 1, bytes.Dims[1], bytes.Dims[2]);
        var ds = InMemory(floats, labels, scaleBytes: true, pre, options, images);
        return new DataSource(DataSourceKind.Idx, path, ds, labels is not null, null, labelsPath is null ? [images] : [images, labelsPath]);
    }

    private static DataSource OpenNpy(string path, string? labelsPath, ImagePreprocessing? pre, ImageDatasetOptions options)
    {
        var stored = Npy.Read(path);
        bool bytes = stored.DataType == DataType.UInt8;
        if (!bytes && stored.DataType != DataType.Float32)
            throw new DataSourceException(path, $"expected float32 or uint8 images, got {stored.DataType}");
        var images = stored as Tensor<float> ?? TensorOps.Cast<float>(stored);
        if (images.Rank == 3) images = images.Reshape(images.Dims[0], 1, images.Dims[1], images.Dims[2]);
        if (images.Rank != 4) throw new DataSourceException(path, $"expected images [N,C,H,W] or [N,H,W], got {Shapes.Format(stored.Dims)}");
        int[]? labels = labelsPath is null ? null : ReadLabelsNpy(labelsPath, images.Dims[0]);
        var ds = InMemory(images, labels, scaleBytes: bytes, pre, options, path);
        return new DataSource(DataSourceKind.Npy, path, ds, labels is not null, null, labelsPath is null ? [path] : [path, labelsPath]);
    }

    // Subset, then (for byte data) x/255 and per-channel normalization, into a LabeledImages.
    private static LabeledImages InMemory(Tensor<float> images, int[]? labels, bool scaleBytes, ImagePreprocessing? pre, ImageDatasetOptions options, string source)
    {
        int n = images.Dims[0], c = images.Dims[1], plane = images.Dims[2] * images.Dims[3], per = c * plane;
        if (n == 0) throw new DataSourceException(source, "holds no images (N = 0)");
        var keep = options.SelectIndices(n);
        var data = new float[keep.Length * per];
        for (int i = 0; i < keep.Length; i++) images.Data.AsSpan(keep[i] * per, per).CopyTo(data.AsSpan(i * per));
        if (scaleBytes)
        {
            float scale = pre?.Scale ?? 1f / 255f;
            float[] mean = pre?.Mean ?? [0f], std = pre?.Std ?? [1f];
            ImagePreprocessing.CheckStats(mean, std, c);
            for (int i = 0; i < keep.Length; i++)
                for (int ch = 0; ch < c; ch++)
                {
                    float m = mean[mean.Length == 1 ? 0 : ch], inv = 1f / std[std.Length == 1 ? 0 : ch];
                    var s = data.AsSpan(i * per + ch * plane, plane);
                    for (int j = 0; j < plane; j++) s[j] = (s[j] * scale - m) * inv;
                }
        }
        var lab = labels is null ? Enumerable.Repeat(-1, keep.Length).ToArray() : keep.Select(i => labels[i]).ToArray();
        return new LabeledImages(new Tensor<float>(data, keep.Length, c, images.Dims[2], images.Dims[3]), lab) { Source = source };
    }
}
