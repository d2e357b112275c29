using QuantSharp.Engine;

namespace QuantSharp.Data;

/// <summary>An image-classification dataset held in memory: images [N,C,H,W] as float and integer labels.</summary>
/// <param name="Images">Images scaled to [0, 1], shape [N, C, H, W].</param>
/// <param name="Labels">Class index per image.</param>
public sealed record LabeledImages(Tensor<float> Images, int[] Labels)
{
    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>The first <paramref name="count"/> images (copied).</summary>
    public LabeledImages Take(int count)
    {
        count = Math.Min(count, Count);
        var dims = Images.Shape;
        int per = Images.Length / Math.Max(Count, 1);
        dims[0] = count;
        var data = Images.Data.AsSpan(0, count * per).ToArray();
        return new LabeledImages(new Tensor<float>(data, dims), Labels[..count]);
    }

    /// <summary>Copies images [start, start+count) into a batch tensor and returns it with its labels.</summary>
    public (Tensor<float> Images, int[] Labels) Batch(int start, int count)
    {
        count = Math.Min(count, Count - start);
        var dims = Images.Shape;
        int per = Images.Length / Count;
        dims[0] = count;
        return (new Tensor<float>(Images.Data.AsSpan(start * per, count * per).ToArray(), dims), Labels[start..(start + count)]);
    }
}

/// <summary>Loads Fashion-MNIST (Debian package <c>dataset-fashion-mnist</c>) from its IDX files.</summary>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The ten class names, in label order.</summary>
    public static readonly string[] ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>True when the four files are present in <paramref name="directory"/>.</summary>
    public static bool IsAvailable(string directory = DefaultDirectory) =>
        File.Exists(Path.Combine(directory, "t10k-images-idx3-ubyte.gz")) && File.Exists(Path.Combine(directory, "train-images-idx3-ubyte.gz"));

    /// <summary>Loads the training (60,000) or test (10,000) split as [N,1,28,28] floats in [0,1].</summary>
    /// <exception cref="FileNotFoundException">The files are missing; the message says which package provides them.</exception>
    public static LabeledImages Load(bool train, string directory = DefaultDirectory)
    {
        string prefix = train ? "train" : "t10k";
        string images = Path.Combine(directory, $"{prefix}-images-idx3-ubyte.gz");
        string labels = Path.Combine(directory, $"{prefix}-labels-idx1-ubyte.gz");
        foreach (var f in new[] { images, labels })
            if (!File.Exists(f)) throw new FileNotFoundException($"Fashion-MNIST file {f} not found; install the Debian package 'dataset-fashion-mnist'.", f);
        var img = Idx.ReadBytes(images);
        var lab = Idx.ReadBytes(labels);
        if (img.Rank != 3 || lab.Rank != 1 || img.Dims[0] != lab.Dims[0])
            throw new InvalidDataException($"{images}: expected images [N,H,W] and labels [N], got {Shapes.Format(img.Dims)} and {Shapes.Format(lab.Dims)}");
        var x = new Tensor<float>(img.Dims[0], 1, img.Dims[1], img.Dims[2]);
        const float inv = 1f / 255f;
        for (int i = 0; i < x.Length; i++) x.Data[i] = img.Data[i] * inv;
        return new LabeledImages(x, lab.Data.Select(b => (int)b).ToArray());
    }
}
