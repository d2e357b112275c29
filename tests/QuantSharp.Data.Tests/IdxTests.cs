using QuantSharp.Data;

namespace QuantSharp.Data.Tests;

public class IdxTests
{
    private static byte[] IdxBytes(int[] dims, byte[] data)
    {
        var ms = new MemoryStream();
        ms.Write([0, 0, 0x08, (byte)dims.Length]);
        foreach (var d in dims) ms.Write([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        ms.Write(data);
        return ms.ToArray();
    }

    [Fact]
    public void ReadBytes_HandMadeFile_GivesShapeAndData()
    {
        var t = Idx.ReadBytes(new MemoryStream(IdxBytes([2, 3], [1, 2, 3, 4, 5, 6])), "x.idx");
        Assert.Equal([2, 3], t.Shape);
        Assert.Equal(6, t[1, 2]);
    }

    [Fact]
    public void ReadBytes_Truncated_NamesFileAndField()
    {
        var bytes = IdxBytes([2, 3], [1, 2, 3]);
        var ex = Assert.Throws<InvalidDataException>(() => Idx.ReadBytes(new MemoryStream(bytes), "x.idx"));
        Assert.Contains("x.idx", ex.Message);
        Assert.Contains("data", ex.Message);
    }

    [Fact]
    public void ReadBytes_WrongType_NamesField()
    {
        var bytes = IdxBytes([1], [1]);
        bytes[2] = 0x0D;
        var ex = Assert.Throws<InvalidDataException>(() => Idx.ReadBytes(new MemoryStream(bytes), "x.idx"));
        Assert.Contains("type", ex.Message);
    }

    [Fact]
    public void FashionMnist_TestSplit_HasTenThousandImagesOfTenClasses()
    {
        if (!FashionMnist.IsAvailable()) Assert.Fail("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist; test.sh installs it)");
        var test = FashionMnist.Load(train: false);
        Assert.Equal([10000, 1, 28, 28], test.Images.Shape);
        Assert.Equal(10, test.Labels.Distinct().Count());
        Assert.InRange(test.Images.Data.Max(), 0.99f, 1f);
    }
}
