using QuantSharp.Data.Images;
using QuantSharp.Engine;

namespace QuantSharp.Data.Tests.Images;

/// <summary>DataSourceResolver: detection of each layout and its one-line errors.</summary>
public class DataSourceResolverTests
{
    private static readonly ImagePreprocessing Small = ImageDatasetTests.Small;

    [Fact]
    public void ClassSubFolders_AreImageFolder()
    {
        using var dir = new TempDir();
        ImageDatasetTests.MakeFolder(dir.Path, perClass: 2);
        var src = DataSourceResolver.Open(dir.Path, preprocessing: Small, requireLabels: true);
        Assert.Equal(DataSourceKind.ImageFolder, src.Kind);
        Assert.True(src.HasLabels);
        Assert.Equal(new[] { "ant", "cat", "dog" }, src.ClassNames);
        Assert.Equal(6, src.Dataset.Count);
        Assert.Equal($"image folder {dir.Path}: 6 samples, 3 classes, samples [3,8,8]", src.Describe());
    }

    [Fact]
    public void FlatFolder_IsUnlabelledList_OrLabelledByTextFile()
    {
        using var dir = new TempDir();
        for (int i = 0; i < 3; i++) File.WriteAllBytes(dir.File($"i{i}.png"), ImageDatasetTests.FlatPng(9, 9, 10));
        var src = DataSourceResolver.Open(dir.Path, preprocessing: Small);
        Assert.Equal(DataSourceKind.ImageList, src.Kind);
        Assert.False(src.HasLabels);
        var e = Assert.Throws<DataSourceException>(() => DataSourceResolver.Open(dir.Path, preprocessing: Small, requireLabels: true));
        Assert.Equal($"{dir.Path}: labels missing: expected class sub-folders (ImageFolder layout) or --labels FILE", e.Message);

        var labels = Path.Combine(Path.GetTempPath(), $"qs-labels-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllLines(labels, ["i2.png 7", "i0.png 5", "i1.png 6"]);
            var lab = DataSourceResolver.Open(dir.Path, labels, Small, requireLabels: true);
            Assert.True(lab.HasLabels);
            Assert.Equal(6, lab.Dataset.Get(1, new float[192]));
        }
        finally { File.Delete(labels); }
    }

    [Fact]
    public void IdxFolder_PrefersT10k_ScalesAndNormalizes()
    {
        using var dir = new TempDir();
        WriteIdx(dir.File("t10k-images-idx3-ubyte"), [2, 2, 2], [0, 51, 102, 255, 255, 0, 0, 0]);
        WriteIdx(dir.File("t10k-labels-idx1-ubyte"), [2], [3, 9]);
        WriteIdx(dir.File("train-images-idx3-ubyte"), [1, 2, 2], [1, 1, 1, 1]);
        var src = DataSourceResolver.Open(dir.Path, preprocessing: new ImagePreprocessing { Channels = 1, Mean = [0.5f], Std = [0.5f] }, requireLabels: true);
        Assert.Equal(DataSourceKind.Idx, src.Kind);
        Assert.Equal(2, src.Dataset.Count);
        Assert.Equal(new[] { 1, 2, 2 }, src.Dataset.SampleShape);
        var x = new float[4];
        Assert.Equal(3, src.Dataset.Get(0, x));
        Assert.Equal(new[] { -1f, -0.6f, -0.2f, 1f }, x.Select(v => MathF.Round(v, 5)));
    }

    [Fact]
    public void IdxWithoutLabels_RequireLabels_Throws()
    {
        using var dir = new TempDir();
        WriteIdx(dir.File("train-images-idx3-ubyte"), [1, 2, 2], [1, 1, 1, 1]);
        var e = Assert.Throws<DataSourceException>(() => DataSourceResolver.Open(dir.Path, requireLabels: true));
        Assert.Equal($"{dir.Path}: labels missing: expected a *-labels-idx1-ubyte[.gz] file next to the images, or --labels", e.Message);
    }

    [Fact]
    public void Npy_FloatUsedAsGiven_Uint8ScaledThenNormalized()
    {
        using var dir = new TempDir();
        Npy.Write(dir.File("f.npy"), Tensor.FromArray(new float[] { 5, -3, 2, 7 }, 1, 1, 2, 2));
        Npy.Write(dir.File("u.npy"), Tensor.FromArray(new byte[] { 0, 255, 51, 102, 0, 0, 0, 0 }, 2, 2, 2));
        Npy.Write(dir.File("l.npy"), Tensor.FromArray(new long[] { 4, 1 }, 2));
        var pre = new ImagePreprocessing { Mean = [0.5f], Std = [0.5f] };
        var f = DataSourceResolver.Open(dir.File("f.npy"), preprocessing: pre);
        Assert.Equal(DataSourceKind.Npy, f.Kind);
        var x = new float[4];
        f.Dataset.Get(0, x);
        Assert.Equal(new float[] { 5, -3, 2, 7 }, x);
        var u = DataSourceResolver.Open(dir.File("u.npy"), dir.File("l.npy"), pre, requireLabels: true);
        Assert.Equal(new[] { 1, 2, 2 }, u.Dataset.SampleShape);
        Assert.Equal(4, u.Dataset.Get(0, x));
        Assert.Equal(new[] { -1f, 1f, -0.6f, -0.2f }, x.Select(v => MathF.Round(v, 5)));
        var e = Assert.Throws<DataSourceException>(() => DataSourceResolver.Open(dir.File("f.npy"), requireLabels: true));
        Assert.Equal($"{dir.File("f.npy")}: labels missing: pass --labels LABELS.npy (integers [N])", e.Message);
    }

    [Fact]
    public void Errors_AreOneLineNamingPath()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DataSourceException>(() => DataSourceResolver.Open(dir.Path));
        Assert.StartsWith($"{dir.Path}: folder is empty: expected a folder of class sub-folders", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        e = Assert.Throws<DataSourceException>(() => DataSourceResolver.Open(dir.File("missing")));
        Assert.StartsWith($"{dir.File("missing")}: not found: expected", e.Message);
        File.WriteAllText(dir.File("data.csv"), "1,2");
        e = Assert.Throws<DataSourceException>(() => DataSourceResolver.Open(dir.File("data.csv")));
        Assert.StartsWith($"{dir.File("data.csv")}: unknown data format", e.Message);
        e = Assert.Throws<DataSourceException>(() => DataSourceResolver.Open(dir.Path));
        Assert.StartsWith($"{dir.Path}: no images or data files found: expected", e.Message);
        e = Assert.Throws<DataSourceException>(() => DataSourceResolver.Open(dir.Path, dir.File("nolabels.npy")));
        Assert.Equal($"{dir.File("nolabels.npy")}: labels file not found", e.Message);
    }

    private static void WriteIdx(string path, int[] dims, byte[] data)
    {
        using var f = File.Create(path);
        f.Write([0, 0, 8, (byte)dims.Length]);
        foreach (int d in dims) f.Write([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        f.Write(data);
    }
}
