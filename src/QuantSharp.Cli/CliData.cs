using System.Globalization;
using QuantSharp.Data;
using QuantSharp.Data.Images;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>
/// Image preprocessing named on the command line (<c>--resize</c>, <c>--crop</c>, <c>--mean</c>, <c>--std</c>,
/// <c>--channels</c>). It applies to image folders; tensor data (.npy, IDX) is used as given.
/// </summary>
/// <param name="Resize">Shorter side after resizing, in pixels.</param>
/// <param name="Crop">Side of the center crop, in pixels.</param>
/// <param name="Mean">Per-channel mean subtracted after scaling to [0, 1].</param>
/// <param name="Std">Per-channel standard deviation divided by after subtracting the mean.</param>
/// <param name="Channels">1 (grayscale) or 3 (RGB).</param>
public sealed record Preprocessing(int? Resize = null, int? Crop = null, float[]? Mean = null, float[]? Std = null, int? Channels = null)
{
    /// <summary>No preprocessing option was given.</summary>
    public static Preprocessing None { get; } = new();

    /// <summary>The options that were given, as they are spelled on the command line.</summary>
    public IReadOnlyList<string> GivenOptions =>
        new[] { (Resize is not null, "--resize"), (Crop is not null, "--crop"), (Mean is not null, "--mean"), (Std is not null, "--std"), (Channels is not null, "--channels") }
            .Where(o => o.Item1).Select(o => o.Item2).ToList();

    /// <summary>Parses the options; throws <see cref="UsageException"/> naming the option and the bad value.</summary>
    public static Preprocessing Parse(int? resize, int? crop, string? mean, string? std, int? channels)
    {
        if (resize is <= 0) throw new UsageException($"--resize expected a positive number of pixels, got {resize}");
        if (crop is <= 0) throw new UsageException($"--crop expected a positive number of pixels, got {crop}");
        if (channels is not (null or 1 or 3)) throw new UsageException($"--channels expected 1 or 3, got {channels}");
        var m = ParseFloats("--mean", mean);
        var s = ParseFloats("--std", std);
        if (s is not null && s.Any(v => !(v > 0))) throw new UsageException($"--std expected positive values, got '{std}'");
        int? n = channels;
        foreach (var (name, values) in new[] { ("--mean", m), ("--std", s) })
            if (values is not null && values.Length != 1 && n is { } c && values.Length != c)
                throw new UsageException($"{name} expected 1 or {c} values (one per channel), got {values.Length}");
        return new Preprocessing(resize, crop, m, s, channels);
    }

    private static float[]? ParseFloats(string option, string? text)
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                throw new UsageException($"{option} expected comma-separated numbers (e.g. 0.485,0.456,0.406), got '{text}'");
        return values;
    }
}

/// <summary>Where a command's data comes from and which part of it to use.</summary>
/// <param name="Data">A .npy file, an IDX directory (or one IDX images file), or an image folder.</param>
/// <param name="Labels">A labels .npy; for IDX the labels file next to the images is used when this is null.</param>
/// <param name="SubsetLength">Use only N samples.</param>
/// <param name="SampleMethod">sequential (the first N) or random (N drawn with <paramref name="Seed"/>).</param>
/// <param name="Seed">Seed of the random subset.</param>
/// <param name="Preprocessing">Image preprocessing (ignored for tensor data, with a note).</param>
/// <param name="IdxSplit">The IDX split an IDX directory is read from: "train" (calibration) or "t10k" (evaluation).</param>
/// <param name="SkipBadImages">Image folders: replace an unreadable image by the next readable one with a warning, instead of failing.</param>
/// <param name="Named">Named inputs (<c>--data NAME=FILE.npy</c>, repeated), each file's first axis the samples; null when
/// <paramref name="Data"/> is one path (which then only describes the specs).</param>
/// <param name="Vocab">A WordPiece vocab (one token per line): <paramref name="Data"/> is then a text file, one sample per line, tokenized into the model's token inputs (see <see cref="TextFeeds"/>).</param>
/// <param name="MaxLength">With <paramref name="Vocab"/>: the most tokens per sample, [CLS] and [SEP] included.</param>
/// <param name="Column">With <paramref name="Vocab"/>: <paramref name="Data"/> is a TSV file and the text is this column (a header name, or a 0-based index).</param>
/// <param name="Header">With <paramref name="Column"/> an index: the TSV's first line is a header (skipped). A column name implies a header.</param>
/// <param name="Merges">With a BPE <paramref name="Vocab"/> (vocab.json): its merges file (default: merges.txt beside it).</param>
public sealed record DataRequest(string Data, string? Labels = null, int? SubsetLength = null, string SampleMethod = "sequential", int Seed = 0,
    Preprocessing? Preprocessing = null, string IdxSplit = "t10k", bool SkipBadImages = false, IReadOnlyList<(string Name, string File)>? Named = null,
    string? Vocab = null, int MaxLength = 128, string? Column = null, bool Header = false, string? Merges = null)
{
    /// <summary>
    /// Whether --data names the model's inputs (NAME=FILE.npy specs, an .npz, a folder of .npz samples, or text with a vocab),
    /// rather than images for one float input.
    /// </summary>
    public bool FeedsNamedInputs => Named is not null || Vocab is not null || (Data.EndsWith(".npz", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(Data))
        || NpzFolder.Holds(Data);

    /// <summary>The data files or folders named by --data and --vocab (to keep outputs apart from them).</summary>
    public IEnumerable<string> Paths => (Named?.Select(n => n.File) ?? [Data]).Concat(Vocab is null ? [] : [Vocab]).Concat(Merges is null ? [] : [Merges]);
}

/// <summary>
/// The one place the CLI loads data (calib, test, analyze): .npy files (through <see cref="NpyData"/>) and IDX
/// directories (Fashion-MNIST layout: <c>{split}-images-idx3-ubyte[.gz]</c> + <c>{split}-labels-idx1-ubyte[.gz]</c>)
/// and image folders (PNG/JPEG, through <see cref="DataSourceResolver"/>). Subsets are sequential or seeded-random.
/// </summary>
internal static partial class CliData
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".gif", ".webp"];

    /// <summary>Loads <paramref name="r"/>; <paramref name="needLabels"/> makes missing labels an error (<paramref name="labelsNeededFor"/> says why). Notes go to <paramref name="notes"/>.</summary>
    /// <exception cref="UsageException">A bad option value, an empty or unrecognised data path, a label count mismatch (each named).</exception>
    public static NpyData Load(DataRequest r, bool needLabels, TextWriter notes, string? labelsNeededFor = null)
    {
        var method = ParseSampleMethod(r.SampleMethod);
        if (r.SubsetLength is <= 0) throw new UsageException($"--subset-len expected a positive number, got {r.SubsetLength}");
        var pre = r.Preprocessing ?? Preprocessing.None;
        NpyData all;
        string from = r.Data;
        if (Directory.Exists(r.Data))
        {
            var files = SafeList(r.Data);
            if (files.Count == 0) throw new UsageException($"--data '{r.Data}': the folder is empty");
            var idx = FindIdx(r.Data, files, r.IdxSplit);
            if (idx is not null) from = Path.GetFileName(idx.Value.Images);
            if (idx is not null) all = LoadIdx(idx.Value.Images, r.Labels ?? idx.Value.Labels, r.Labels is null ? "the IDX labels file" : "--labels");
            else if (IsImageFolder(r.Data)) return LoadImages(r, method, pre, needLabels, notes);
            else
                throw new UsageException($"--data '{r.Data}': no IDX files ({r.IdxSplit}-images-idx3-ubyte[.gz]) or images there; pass a .npy file or an IDX directory");
        }
        else if (!File.Exists(r.Data)) throw CliPaths.MissingFile($"--data: '{r.Data}'", r.Data);
        else if (IsIdxImages(Path.GetFileName(r.Data)))
            all = LoadIdx(r.Data, r.Labels ?? IdxLabelsFor(r.Data), r.Labels is null ? "the IDX labels file" : "--labels");
        else if (ImageExtensions.Contains(Path.GetExtension(r.Data).ToLowerInvariant()))
            throw new UsageException($"--data '{r.Data}': a single image file; pass the folder that holds the images (class sub-folders, or a flat folder for calibration)");
        else all = NpyData.Load(r.Data, r.Labels, null);

        if (pre.GivenOptions.Count > 0)
            notes.WriteLine($"note: image preprocessing ({string.Join(", ", pre.GivenOptions)}) is for image folders; ignored, the tensor data in '{r.Data}' is used as given");
        if (all.Count == 0) throw new UsageException($"--data '{r.Data}': holds no samples (first dimension is 0)");
        if (needLabels && all.Labels is null)
            throw new UsageException($"labels missing{(labelsNeededFor is null ? "" : $" ({labelsNeededFor})")}: --data '{r.Data}' has no labels; pass --labels LABELS.npy (one integer per sample)");
        var subset = Subset(all, r.SubsetLength, method, r.Seed);
        string sel = subset.Count == all.Count ? "" : method == SampleMethod.Random ? $" (random, seed {r.Seed})" : " (sequential)";
        notes.WriteLine($"data: {subset.Count} of {all.Count} samples{sel} from {from}, each {Shapes.Format(all.Images.Shape[1..])}{(subset.Labels is null ? "" : ", with labels")}");
        return subset;
    }

    /// <summary>
    /// An image folder (class sub-folders → labels from the sorted folder names, or a flat folder of unlabelled images /
    /// labelled by <c>--labels</c>) through <see cref="DataSourceResolver"/>: decoded (PNG/JPEG), preprocessed (resize
    /// shorter side, center crop, scale, normalize; ImageNet defaults unless given) and stacked into one tensor.
    /// </summary>
    private static NpyData LoadImages(DataRequest r, SampleMethod method, Preprocessing pre, bool needLabels, TextWriter notes)
    {
        var (ds, hasLabels) = OpenImages(r, method, pre, needLabels, notes);
        var shape = new[] { ds.Count }.Concat(ds.SampleShape).ToArray();
        var images = new Tensor<float>(shape);
        int per = images.Length / ds.Count;
        var labels = new int[ds.Count];
        try
        {
            Parallel.For(0, ds.Count, i => labels[i] = ds.Get(i, images.Data.AsSpan(i * per, per)));
        }
        catch (AggregateException e) when (e.InnerException is IOException or DataSourceException)
        {
            throw new UsageException(e.InnerException!.Message);
        }
        return NpyData.Of(images, hasLabels ? labels : null);
    }

    /// <summary>
    /// Opens an image folder as <see cref="LoadImages"/> reads it (subset, preprocessing options, ImageNet defaults) without
    /// decoding anything, and notes what was found.
    /// </summary>
    private static (IDataset Images, bool HasLabels) OpenImages(DataRequest r, SampleMethod method, Preprocessing pre, bool needLabels, TextWriter notes)
    {
        var defaults = new ImagePreprocessing();
        int channels = pre.Channels ?? defaults.Channels;
        float[] Stats(float[]? given, float[] imageNet) => given is null ? (channels == 3 ? imageNet : [imageNet.Average()])
            : given.Length == 1 ? Enumerable.Repeat(given[0], channels).ToArray() : given;
        int crop = pre.Crop ?? defaults.CropHeight;
        var image = defaults with
        {
            ResizeShorter = pre.Resize ?? Math.Max(crop, defaults.ResizeShorter * crop / defaults.CropHeight),
            CropHeight = crop, CropWidth = crop, Channels = channels,
            Mean = Stats(pre.Mean, defaults.Mean), Std = Stats(pre.Std, defaults.Std),
        };
        var options = new ImageDatasetOptions
        {
            SubsetLength = r.SubsetLength, Seed = r.Seed, SkipUnreadable = r.SkipBadImages,
            Sampling = method,
            Warn = message => { lock (notes) notes.WriteLine($"warning: {message}"); }, // decoding runs in parallel
        };
        DataSource source;
        try { source = DataSourceResolver.Open(r.Data, r.Labels, image, options, requireLabels: needLabels); }
        catch (DataSourceException e) { throw new UsageException(e.Message); }
        var ds = source.Dataset;
        if (ds.Count == 0) throw new UsageException($"--data '{r.Data}': no images selected");
        notes.WriteLine($"data: {source.Describe()}" +
            $" (resize {image.ResizeShorter}, crop {crop}, mean [{string.Join(", ", image.Mean.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)))}], std [{string.Join(", ", image.Std.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)))}])");
        return (ds, source.HasLabels);
    }

    /// <summary>Parses <c>--sample-method</c>.</summary>
    public static SampleMethod ParseSampleMethod(string name) => name.ToLowerInvariant() switch
    {
        "sequential" => SampleMethod.Sequential,
        "random" => SampleMethod.Random,
        _ => throw new UsageException($"--sample-method expected random or sequential, got '{name}'"),
    };

    /// <summary>The indices of the samples a subset keeps, in increasing order (the image datasets' own selection, so every source subsets alike).</summary>
    public static int[] SubsetIndices(int count, int? subsetLength, SampleMethod method, int seed) =>
        new ImageDatasetOptions { SubsetLength = subsetLength, Sampling = method, Seed = seed }.SelectIndices(count);

    private static NpyData Subset(NpyData all, int? subsetLength, SampleMethod method, int seed)
    {
        var keep = SubsetIndices(all.Count, subsetLength, method, seed);
        if (keep.Length == all.Count) return all;
        var shape = all.Images.Shape;
        int per = all.Images.Length / shape[0];
        shape[0] = keep.Length;
        var images = new Tensor<float>(shape);
        for (int i = 0; i < keep.Length; i++) Array.Copy(all.Images.Data, (long)keep[i] * per, images.Data, (long)i * per, per);
        return NpyData.Of(images, all.Labels is { } l ? keep.Select(k => l[k]).ToArray() : null);
    }

    private static List<string> SafeList(string dir)
    {
        try { return Directory.EnumerateFileSystemEntries(dir).ToList(); }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UsageException($"--data '{dir}': the folder cannot be read ({e.Message})");
        }
    }

    private static bool IsIdxImages(string fileName) => fileName.Contains("-images-idx", StringComparison.Ordinal);

    private static (string Images, string? Labels)? FindIdx(string dir, List<string> entries, string split)
    {
        var images = entries.Where(f => File.Exists(f) && IsIdxImages(Path.GetFileName(f))).OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (images.Count == 0) return null;
        var preferred = images.Where(f => Path.GetFileName(f).StartsWith(split + "-", StringComparison.Ordinal)).ToList();
        var chosen = preferred.Count > 0 ? preferred : images;
        if (chosen.Count > 1 && chosen.Select(f => f.Replace(".gz", "", StringComparison.Ordinal)).Distinct().Count() > 1)
            throw new UsageException($"--data '{dir}': several IDX image files ({string.Join(", ", chosen.Select(Path.GetFileName))}); pass one of them as --data");
        return (chosen[0], IdxLabelsFor(chosen[0]));
    }

    /// <summary>The labels file next to an IDX images file (<c>X-images-idx3-ubyte[.gz]</c> → <c>X-labels-idx1-ubyte[.gz]</c>), or null.</summary>
    private static string? IdxLabelsFor(string imagesPath)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(imagesPath)) ?? ".";
        string name = Path.GetFileName(imagesPath);
        int at = name.IndexOf("-images-idx", StringComparison.Ordinal);
        string stem = name[..at];
        foreach (var candidate in new[] { $"{stem}-labels-idx1-ubyte.gz", $"{stem}-labels-idx1-ubyte" })
            if (File.Exists(Path.Combine(dir, candidate))) return Path.Combine(dir, candidate);
        return null;
    }

    private static NpyData LoadIdx(string imagesPath, string? labelsPath, string labelsSource)
    {
        var raw = Idx.ReadBytes(imagesPath);
        if (raw.Rank is not (3 or 4))
            throw new UsageException($"--data '{imagesPath}': expected IDX images [N,H,W] or [N,C,H,W], got {Shapes.Format(raw.Dims)}");
        var shape = raw.Rank == 3 ? new[] { raw.Dims[0], 1, raw.Dims[1], raw.Dims[2] } : raw.Shape;
        var images = new Tensor<float>(shape);
        const float inv = 1f / 255f;
        for (int i = 0; i < images.Length; i++) images.Data[i] = raw.Data[i] * inv;
        int[]? labels = null;
        if (labelsPath is not null)
        {
            if (!File.Exists(labelsPath)) throw CliPaths.MissingFile($"{labelsSource}: file '{labelsPath}'", labelsPath);
            labels = labelsPath.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)
                ? NpyData.ReadLabels(labelsPath)
                : Idx.ReadBytes(labelsPath) switch
                {
                    { Rank: 1 } l => l.Data.Select(b => (int)b).ToArray(),
                    var l => throw new UsageException($"labels '{labelsPath}': expected a 1-D IDX file, got shape {Shapes.Format(l.Dims)}"),
                };
            if (labels.Length != images.Dims[0])
                throw new UsageException($"labels '{labelsPath}': {labels.Length} labels for {images.Dims[0]} images in '{imagesPath}' (expected one per image)");
        }
        return NpyData.Of(images, labels);
    }

    private static bool IsImageFolder(string dir)
    {
        try
        {
            return Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 2 })
                .Any(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()));
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException) { return false; }
    }
}
