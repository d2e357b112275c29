using QuantSharp.Data;
using QuantSharp.Data.Images;
using QuantSharp.Engine;

namespace QuantSharp.Cli;

internal static partial class CliData
{
    /// <summary>
    /// The data of a long evaluation (<c>test</c>) as a streamed <see cref="FeedSet"/> for the one float input
    /// <paramref name="inputName"/>: an image folder is decoded batch by batch and an .npy is read by rows, so memory does
    /// not grow with the data set (50,000 ImageNet images at 224×224 are 30 GB as floats). Returns null for data that is
    /// loaded whole (IDX files, which are small) and for paths <see cref="Load"/> refuses, so it names the problem.
    /// </summary>
    /// <exception cref="UsageException">Bad labels, a bad .npy header or a bad option (named), as <see cref="Load"/> would say.</exception>
    public static FeedSet? OpenStreamed(DataRequest r, string inputName, bool needLabels, TextWriter notes, string? labelsNeededFor)
    {
        var method = ParseSampleMethod(r.SampleMethod);
        if (r.SubsetLength is <= 0) throw new UsageException($"--subset-len expected a positive number, got {r.SubsetLength}");
        if (Directory.Exists(r.Data))
        {
            var files = SafeList(r.Data);
            if (files.Count == 0 || FindIdx(r.Data, files, r.IdxSplit) is not null || !IsImageFolder(r.Data)) return null;
            var (images, hasLabels) = OpenImages(r, method, r.Preprocessing ?? Preprocessing.None, needLabels, notes);
            // The labels a batch reports are those its reads return; these only say the set is labelled.
            int[]? labels = !hasLabels ? null
                : images is ImageFileDataset imageFiles ? imageFiles.Samples.Select(s => s.Label).ToArray() : new int[images.Count];
            return FeedSet.Streamed(inputName, images, labels);
        }
        if (!File.Exists(r.Data) || IsIdxImages(Path.GetFileName(r.Data)) || !r.Data.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return null;

        int[]? fileLabels = r.Labels is { } labelsPath ? NpyData.ReadLabels(labelsPath) : null;
        NpyFileDataset rows;
        try { rows = new NpyFileDataset(r.Data); }
        catch (InvalidDataException e) { throw new UsageException($"--data: {e.Message}"); }
        if (fileLabels is not null && fileLabels.Length != rows.Count)
            throw new UsageException($"--labels '{r.Labels}': {fileLabels.Length} labels for {rows.Count} images in '{r.Data}' (expected one per image)");
        if ((r.Preprocessing ?? Preprocessing.None).GivenOptions is { Count: > 0 } given)
            notes.WriteLine($"note: image preprocessing ({string.Join(", ", given)}) is for image folders; ignored, the tensor data in '{r.Data}' is used as given");
        if (rows.Count == 0) throw new UsageException($"--data '{r.Data}': holds no samples (first dimension is 0)");
        if (needLabels && fileLabels is null)
            throw new UsageException($"labels missing{(labelsNeededFor is null ? "" : $" ({labelsNeededFor})")}: --data '{r.Data}' has no labels; pass --labels LABELS.npy (one integer per sample)");
        var all = FeedSet.Streamed(inputName, fileLabels is null ? rows : new LabelledDataset(rows, fileLabels), fileLabels);
        var subset = all.Select(SubsetIndices(rows.Count, r.SubsetLength, method, r.Seed));
        string sel = subset.Count == all.Count ? "" : method == SampleMethod.Random ? $" (random, seed {r.Seed})" : " (sequential)";
        notes.WriteLine($"data: {subset.Count} of {all.Count} samples{sel} from {r.Data}, each {Shapes.Format(rows.SampleShape)}{(fileLabels is null ? "" : ", with labels")}, read batch by batch");
        return subset;
    }
}
