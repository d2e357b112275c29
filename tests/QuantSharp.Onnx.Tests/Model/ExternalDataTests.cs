using QuantSharp.Engine;
using QuantSharp.Onnx;

namespace QuantSharp.Onnx.Tests.Model;

public sealed class ExternalDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qs-onnx-ext-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static OnnxTensor External(string name, string location, long? offset = null, long? length = null, params long[] dims)
    {
        var t = new OnnxTensor { Name = name, DataType = OnnxDataType.Float, DataLocation = OnnxDataLocation.External };
        t.Dims.AddRange(dims);
        t.ExternalData.Add(new OnnxStringEntry("location", location));
        if (offset is { } o) t.ExternalData.Add(new OnnxStringEntry("offset", o.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (length is { } l) t.ExternalData.Add(new OnnxStringEntry("length", l.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return t;
    }

    private string SaveModel(params OnnxTensor[] initializers)
    {
        var m = new OnnxModel { IrVersion = 8 };
        m.OpsetImport.Add(new OnnxOperatorSetId("", 13));
        m.Graph.Initializers.AddRange(initializers);
        string path = Path.Combine(_dir, "model.onnx");
        File.WriteAllBytes(path, m.ToBytes());
        return path;
    }

    private static byte[] FloatBytes(params float[] v) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    [Fact]
    public void Load_ReadsExternalDataWithOffsetAndLength_AndMakesItInline()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "weights"));
        var blob = new byte[16].Concat(FloatBytes(1, 2, 3, 4)).Concat(FloatBytes(9, 8)).ToArray();
        File.WriteAllBytes(Path.Combine(_dir, "weights", "data.bin"), blob);
        File.WriteAllBytes(Path.Combine(_dir, "tail.bin"), FloatBytes(5, 6));
        string path = SaveModel(
            External("a", "weights/data.bin", 16, 16, 2, 2),
            External("b", "weights/data.bin", 32, null, 2),
            External("c", "tail.bin", null, null, 2));
        var m = OnnxModel.Load(path);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, m.Graph.Initializers[0].ToTensor<float>().Data);
        Assert.Equal(new[] { 9f, 8f }, m.Graph.Initializers[1].ToTensor<float>().Data);
        Assert.Equal(new[] { 5f, 6f }, m.Graph.Initializers[2].ToTensor<float>().Data);
        Assert.All(m.Graph.Initializers, t =>
        {
            Assert.Equal(OnnxDataLocation.Default, t.DataLocation);
            Assert.Empty(t.ExternalData);
        });
    }

    [Fact]
    public void Load_ExternalTensorInsideSubgraphAttribute_IsResolved()
    {
        File.WriteAllBytes(Path.Combine(_dir, "c.bin"), FloatBytes(7));
        var body = new OnnxGraph();
        body.Initializers.Add(External("inner", "c.bin", null, null, 1));
        var node = new OnnxNode { OpType = "If" };
        node.Attributes.Add(OnnxAttribute.Graph("then_branch", body));
        var m = new OnnxModel { IrVersion = 8 };
        m.Graph.Nodes.Add(node);
        string path = Path.Combine(_dir, "sub.onnx");
        m.Save(path);
        var back = OnnxModel.Load(path);
        Assert.Equal(new[] { 7f }, back.Graph.Nodes[0].Attributes[0].G!.Initializers[0].ToTensor<float>().Data);
    }

    [Theory]
    [InlineData("../escape.bin")]
    [InlineData("weights/../../escape.bin")]
    [InlineData("/etc/passwd")]
    public void Load_LocationOutsideModelFolder_IsRejected(string location)
    {
        string path = SaveModel(External("w", location, null, null, 1));
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(path));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains(location, e.Message);
        Assert.True(e.Message.Contains("outside the model folder") || e.Message.Contains("must be a relative path"), e.Message);
    }

    [Fact]
    public void Load_MissingExternalFile_NamesTensorAndFile()
    {
        string path = SaveModel(External("w", "nothere.bin", null, null, 1));
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(path));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("nothere.bin", e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Load_ShortExternalFile_NamesTensorFileAndSizes()
    {
        File.WriteAllBytes(Path.Combine(_dir, "short.bin"), new byte[10]);
        string path = SaveModel(External("w", "short.bin", 4, 8, 2));
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(path));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("short.bin", e.Message);
        Assert.Contains("has 10 bytes; needs offset 4 + length 8", e.Message);
    }

    [Fact]
    public void Load_BadOffsetText_IsRejected()
    {
        File.WriteAllBytes(Path.Combine(_dir, "x.bin"), new byte[4]);
        var t = External("w", "x.bin", null, null, 1);
        t.ExternalData.Add(new OnnxStringEntry("offset", "-4"));
        string path = SaveModel(t);
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(path));
        Assert.Contains("'offset' expected a non-negative decimal integer, got '-4'", e.Message);
    }

    [Fact]
    public void Load_ExternalLengthKeyNotMatchingShape_IsRejectedNamingBoth()
    {
        File.WriteAllBytes(Path.Combine(_dir, "x.bin"), new byte[12]);
        string path = SaveModel(External("w", "x.bin", null, 12, 2));
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(path));
        Assert.Contains("tensor 'w' (FLOAT [2])", e.Message);
        Assert.Contains("'length' is 12 bytes; the declared shape needs 8", e.Message);
    }

    [Fact]
    public void Load_WithoutLengthKey_ReadsTheDeclaredSizeFromTheOffset()
    {
        File.WriteAllBytes(Path.Combine(_dir, "x.bin"), FloatBytes(1, 2, 3));
        string path = SaveModel(External("w", "x.bin", 4, null, 1));
        Assert.Equal(new[] { 2f }, OnnxModel.Load(path).Graph.Initializers[0].ToTensor<float>().Data);
    }

    [Fact]
    public void LoadFromBytes_LeavesExternalTensorsUnresolved()
    {
        string path = SaveModel(External("w", "x.bin", null, null, 2));
        var m = OnnxModel.Load(File.ReadAllBytes(path));
        Assert.Equal(OnnxDataLocation.External, m.Graph.Initializers[0].DataLocation);
        Assert.Equal("x.bin", m.Graph.Initializers[0].ExternalData[0].Value);
    }
}
