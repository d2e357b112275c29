using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>
/// Images and labels given as <c>.npy</c> files: float32 images (N, …) are used as given; uint8 images are scaled to
/// [0, 1]. Labels are a 1-D integer array (int64, int32 or uint8) with one entry per image.
/// </summary>
internal sealed class NpyData
{
    private NpyData(Tensor<float> images, int[]? labels)
    {
        Images = images;
        Labels = labels;
    }

    /// <summary>All images, first dimension = sample.</summary>
    public Tensor<float> Images { get; }

    /// <summary>One label per image, or null when no labels were given.</summary>
    public int[]? Labels { get; }

    /// <summary>Number of samples.</summary>
    public int Count => Images.Dims[0];

    /// <summary>Loads images (and labels), keeping the first <paramref name="subsetLength"/> samples when given.</summary>
    /// <exception cref="UsageException">Wrong element types or shapes, or a label count that differs from the image count (named).</exception>
    public static NpyData Load(string imagesPath, string? labelsPath, int? subsetLength)
    {
        if (!File.Exists(imagesPath)) throw CliPaths.MissingFile($"--data: file '{imagesPath}'", imagesPath);
        var raw = Npy.Read(imagesPath);
        Tensor<float> images = raw switch
        {
            Tensor<float> f => f,
            Tensor<byte> b => Scale(b),
            _ => throw new UsageException($"--data '{imagesPath}': expected float32 or uint8 images, got {raw.DataType}"),
        };
        if (images.Rank < 2) throw new UsageException($"--data '{imagesPath}': expected shape (N, …) with N samples, got {Shapes.Format(images.Dims)}");
        int[]? labels = null;
        if (labelsPath is not null)
        {
            labels = ReadLabels(labelsPath);
            if (labels.Length != images.Dims[0])
                throw new UsageException($"--labels '{labelsPath}': {labels.Length} labels for {images.Dims[0]} images in '{imagesPath}' (expected one per image)");
        }
        int n = images.Dims[0];
        if (subsetLength is { } s)
        {
            if (s <= 0) throw new UsageException($"--subset-len expected a positive number, got {s}");
            n = Math.Min(n, s);
        }
        return n == images.Dims[0] ? new NpyData(images, labels) : new NpyData(Take(images, 0, n), labels?[..n]);
    }

    /// <summary>A data set of <paramref name="images"/> (first dimension = sample) and optional labels.</summary>
    public static NpyData Of(Tensor<float> images, int[]? labels) => new(images, labels);

    /// <summary>Reads a 1-D integer labels .npy (int64, int32 or uint8).</summary>
    /// <exception cref="UsageException">Another element type or rank (named).</exception>
    public static int[] ReadLabels(string labelsPath)
    {
        if (!File.Exists(labelsPath)) throw CliPaths.MissingFile($"--labels: file '{labelsPath}'", labelsPath);
        var l = Npy.Read(labelsPath);
        if (l.Rank != 1) throw new UsageException($"--labels '{labelsPath}': expected a 1-D array (one integer per image), got shape {Shapes.Format(l.Dims)}");
        return l switch
        {
            Tensor<long> v => v.Data.Select(x => checked((int)x)).ToArray(),
            Tensor<int> v => v.Data,
            Tensor<byte> v => v.Data.Select(x => (int)x).ToArray(),
            _ => throw new UsageException($"--labels '{labelsPath}': expected int64, int32 or uint8 labels, got {l.DataType}"),
        };
    }

    /// <summary>Consecutive batches of at most <paramref name="batchSize"/> samples.</summary>
    public IEnumerable<(Tensor<float> Inputs, int[] Labels)> Batches(int batchSize)
    {
        if (batchSize <= 0) throw new UsageException($"--batch-size expected a positive number, got {batchSize}");
        for (int start = 0; start < Count; start += batchSize)
        {
            int n = Math.Min(batchSize, Count - start);
            yield return (Take(Images, start, n), Labels?[start..(start + n)] ?? []);
        }
    }

    /// <summary>Samples [start, start + count) as a new tensor.</summary>
    public static Tensor<float> Take(Tensor<float> images, int start, int count)
    {
        var shape = images.Shape;
        int per = images.Length / Math.Max(1, shape[0]);
        shape[0] = count;
        var t = new Tensor<float>(shape);
        Array.Copy(images.Data, (long)start * per, t.Data, 0, (long)count * per);
        return t;
    }

    private static Tensor<float> Scale(Tensor<byte> b)
    {
        var f = new Tensor<float>(b.Dims);
        for (int i = 0; i < f.Length; i++) f.Data[i] = b.Data[i] / 255f;
        return f;
    }
}
