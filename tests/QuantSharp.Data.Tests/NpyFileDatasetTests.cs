using QuantSharp.Engine;
using Xunit;

namespace QuantSharp.Data.Tests;

/// <summary>Reading an .npy sample by sample gives exactly the rows of the whole-file read.</summary>
public class NpyFileDatasetTests
{
    [Fact]
    public void FloatRows_EqualTheWholeFileRead_InAnyOrderAndInParallel()
    {
        using var dir = new TempDir();
        var all = Tensor.RandomNormal(new Random(1), 0f, 1f, 37, 3, 5, 4);
        Npy.Write(dir.File("x.npy"), all);
        using var ds = new NpyFileDataset(dir.File("x.npy"));
        Assert.Equal(37, ds.Count);
        Assert.Equal([3, 5, 4], ds.SampleShape);
        int per = 60;
        var got = new float[37 * per];
        Parallel.For(0, 37, i => Assert.Equal(-1, ds.Get(36 - i, got.AsSpan((36 - i) * per, per))));
        Assert.Equal(all.Data, got);
    }

    [Fact]
    public void ByteRows_ScaleTo0To1_AsTheWholeFileLoaders()
    {
        using var dir = new TempDir();
        var bytes = new Tensor<byte>([4, 2, 3]);
        for (int i = 0; i < bytes.Length; i++) bytes.Data[i] = (byte)(i * 10);
        Npy.Write(dir.File("b.npy"), bytes);
        using var ds = new NpyFileDataset(dir.File("b.npy"));
        var row = new float[6];
        ds.Get(2, row);
        Assert.Equal(Enumerable.Range(12, 6).Select(i => i * 10 / 255f), row);
    }

    [Fact]
    public void BigEndianFloats_AreSwapped()
    {
        using var dir = new TempDir();
        var header = "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }";
        header = header.PadRight(118 - 10) + "\n";
        using (var f = File.Create(dir.File("be.npy")))
        {
            f.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)(header.Length & 0xFF), (byte)(header.Length >> 8)]);
            f.Write(System.Text.Encoding.ASCII.GetBytes(header));
            foreach (float v in new[] { 1f, -2.5f, 3.25f, 1e-3f })
            {
                var b = BitConverter.GetBytes(v);
                Array.Reverse(b);
                f.Write(b);
            }
        }
        using var ds = new NpyFileDataset(dir.File("be.npy"));
        var row = new float[2];
        ds.Get(1, row);
        Assert.Equal([3.25f, 1e-3f], row);
    }

    [Fact]
    public void BadFiles_AreOneLineNamingTheFileAndWhatWasExpected()
    {
        using var dir = new TempDir();
        Npy.Write(dir.File("ids.npy"), new Tensor<long>([3, 4]));
        var wrongType = Assert.Throws<InvalidDataException>(() => new NpyFileDataset(dir.File("ids.npy")));
        Assert.Contains("ids.npy", wrongType.Message);
        Assert.Contains("float32 or uint8", wrongType.Message);

        Npy.Write(dir.File("flat.npy"), new Tensor<float>([5]));
        Assert.Contains("(N, …)", Assert.Throws<InvalidDataException>(() => new NpyFileDataset(dir.File("flat.npy"))).Message);

        Npy.Write(dir.File("cut.npy"), new Tensor<float>([10, 100]));
        var bytes = File.ReadAllBytes(dir.File("cut.npy"));
        File.WriteAllBytes(dir.File("cut.npy"), bytes[..(bytes.Length - 4)]);
        var cut = Assert.Throws<InvalidDataException>(() => new NpyFileDataset(dir.File("cut.npy")));
        Assert.Contains("cut.npy", cut.Message);
        Assert.Contains("truncated", cut.Message);
    }

    [Fact]
    public void LabelledDataset_ReturnsTheGivenLabels_AndRefusesAMiscount()
    {
        using var dir = new TempDir();
        Npy.Write(dir.File("x.npy"), new Tensor<float>([3, 2]));
        using var ds = new NpyFileDataset(dir.File("x.npy"));
        var labelled = new LabelledDataset(ds, [7, 8, 9]);
        Assert.Equal(8, labelled.Get(1, new float[2]));
        Assert.Contains("2 labels for 3 samples", Assert.Throws<ArgumentException>(() => new LabelledDataset(ds, [1, 2])).Message);
    }
}
