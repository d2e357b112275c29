using QuantSharp.Data.Images;

namespace QuantSharp.Data.Tests.Images;

/// <summary>Image-folder and file-list data sets: classes, labels, subsets, unreadable files, loading through DataLoader.</summary>
public class ImageDatasetTests
{
    // A w×h RGB PNG filled with one grey level.
    internal static byte[] FlatPng(int w, int h, byte value) =>
        PngTestEncoder.Encode(w, h, 8, 2, Enumerable.Range(0, h).Select(_ => Enumerable.Repeat(value, w * 3).ToArray()).ToArray());

    internal static readonly ImagePreprocessing Small = new() { ResizeShorter = 8, CropHeight = 8, CropWidth = 8, Mean = [0f], Std = [1f] };

    // root/{cat,dog,ant}/… with distinct grey levels per class.
    internal static void MakeFolder(string root, int perClass = 3)
    {
        string[] classes = ["dog", "cat", "ant"];
        for (int c = 0; c < classes.Length; c++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, classes[c])).FullName;
            for (int i = 0; i < perClass; i++)
                File.WriteAllBytes(Path.Combine(dir, $"img{i}{(i == 1 ? ".PNG" : ".png")}"), FlatPng(10 + i, 9, (byte)(40 * c + 10)));
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "not an image");
        }
    }

    [Fact]
    public void ImageFolder_ClassesSorted_LabelsAreClassIndices()
    {
        using var dir = new TempDir();
        MakeFolder(dir.Path);
        var ds = new ImageFolderDataset(dir.Path, Small);
        Assert.Equal(new[] { "ant", "cat", "dog" }, ds.Classes);
        Assert.Equal(9, ds.Count);
        Assert.Equal(new[] { 0, 0, 0, 1, 1, 1, 2, 2, 2 }, ds.Samples.Select(s => s.Label));
        var x = new float[3 * 64];
        int label = ds.Get(4, x);
        Assert.Equal(1, label);
        Assert.Equal(50f / 255, x[0], 5); // "cat" was written with grey 40·1 + 10
    }

    [Fact]
    public void Subset_SequentialTakesFirst_RandomIsSeededAndSorted()
    {
        using var dir = new TempDir();
        MakeFolder(dir.Path);
        var seq = new ImageFolderDataset(dir.Path, Small, new ImageDatasetOptions { SubsetLength = 4 });
        Assert.Equal(new[] { 0, 0, 0, 1 }, seq.Samples.Select(s => s.Label));
        var r1 = new ImageFolderDataset(dir.Path, Small, new ImageDatasetOptions { SubsetLength = 4, Sampling = SampleMethod.Random, Seed = 7 });
        var r2 = new ImageFolderDataset(dir.Path, Small, new ImageDatasetOptions { SubsetLength = 4, Sampling = SampleMethod.Random, Seed = 7 });
        var r3 = new ImageFolderDataset(dir.Path, Small, new ImageDatasetOptions { SubsetLength = 4, Sampling = SampleMethod.Random, Seed = 8 });
        Assert.Equal(r1.Samples, r2.Samples);
        Assert.Equal(4, r1.Count);
        Assert.Equal(r1.Samples.OrderBy(s => s.Path, StringComparer.Ordinal), r1.Samples);
        Assert.NotEqual(r1.Samples, r3.Samples);
        var big = new ImageDatasetOptions { SubsetLength = 100, Sampling = SampleMethod.Random };
        Assert.Equal(9, new ImageFolderDataset(dir.Path, Small, big).Count);
    }

    [Fact]
    public void Unreadable_FailsNamingFile_ByDefault()
    {
        using var dir = new TempDir();
        MakeFolder(dir.Path);
        var bad = Path.Combine(dir.Path, "cat", "img0.png");
        File.WriteAllBytes(bad, [1, 2, 3]);
        var ds = new ImageFolderDataset(dir.Path, Small);
        var e = Assert.Throws<ImageFormatException>(() => ds.Get(3, new float[192]));
        Assert.StartsWith(bad + ": image: unknown format", e.Message);
        var loader = new DataLoader(ds, 4);
        var le = Assert.Throws<InvalidDataException>(() => loader.Epoch().ToList());
        Assert.Contains(bad, le.Message);
    }

    [Fact]
    public void Unreadable_SkippedWithWarning_WhenAsked()
    {
        using var dir = new TempDir();
        MakeFolder(dir.Path);
        var bad = Path.Combine(dir.Path, "cat", "img0.png");
        File.WriteAllBytes(bad, FlatPng(4, 4, 9)[..40]); // truncated
        var warnings = new List<string>();
        var ds = new ImageFolderDataset(dir.Path, Small, new ImageDatasetOptions { SkipUnreadable = true, Warn = warnings.Add });
        var x = new float[192];
        Assert.Equal(1, ds.Get(3, x)); // replaced by the next readable sample, cat/img1
        Assert.Equal(new[] { bad }, ds.Skipped);
        Assert.Single(warnings);
        Assert.StartsWith($"warning: skipping unreadable image {bad}: PNG: truncated", warnings[0]);
        var batches = new DataLoader(ds, 5).Epoch().ToList();
        Assert.Equal(9, batches.Sum(b => b.Labels.Length));
    }

    [Fact]
    public void FileList_FlatFolder_Unlabelled_ThroughDataLoader()
    {
        using var dir = new TempDir();
        for (int i = 0; i < 5; i++) File.WriteAllBytes(dir.File($"c{i}.png"), FlatPng(12, 10, (byte)(i * 50)));
        var ds = new ImageFileListDataset(dir.Path, Small, new ImageDatasetOptions { SubsetLength = 3 });
        Assert.Equal(3, ds.Count);
        var batch = new DataLoader(ds, 3).Epoch().Single();
        Assert.Equal(new[] { 3, 3, 8, 8 }, batch.Images.Shape);
        Assert.All(batch.Labels, l => Assert.Equal(ImageFileListDataset.NoLabel, l));
        Assert.Equal(100f / 255, batch.Images[2, 1, 4, 4], 5);
    }

    [Fact]
    public void EmptyFolders_ThrowNamingFolder()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<InvalidDataException>(() => new ImageFileListDataset(dir.Path, Small));
        Assert.Equal($"{dir.Path}: no images found: expected .png/.jpg/.jpeg files", e.Message);
        Directory.CreateDirectory(dir.File("cls"));
        var f = Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(dir.Path, Small));
        Assert.Equal($"{dir.Path}: no images found: expected class sub-folders holding .png/.jpg/.jpeg files", f.Message);
    }

    [Fact]
    public void JpegFiles_DecodedInFolder()
    {
        if (!ImageTools.HasLibjpegTools) Assert.Fail("cjpeg not found (Debian package libjpeg-turbo-progs; test.sh installs it)");
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("a"));
        var jpeg = ImageTools.MustRun("cjpeg", ["-quality", "95"], ImageTools.Pnm(16, 16, 3, Enumerable.Repeat((byte)200, 16 * 16 * 3).ToArray()));
        File.WriteAllBytes(dir.File("a/x.JPEG"), jpeg);
        File.WriteAllBytes(dir.File("a/y.jpg"), jpeg);
        var ds = new ImageFolderDataset(dir.Path, Small);
        Assert.Equal(2, ds.Count);
        var x = new float[192];
        ds.Get(0, x);
        Assert.InRange(x[100] * 255, 199, 201);
    }
}
