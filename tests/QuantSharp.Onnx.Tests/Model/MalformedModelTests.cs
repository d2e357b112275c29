using QuantSharp.Onnx;
using QuantSharp.Onnx.Protobuf;

namespace QuantSharp.Onnx.Tests.Model;

public class MalformedModelTests
{
    private static InvalidDataException LoadFails(byte[] bytes, string? source = "bad.onnx") =>
        Assert.Throws<InvalidDataException>(() => OnnxModel.Load(bytes, source));

    [Fact]
    public void TruncatedFile_AtEveryCut_ThrowsInvalidDataNamingTheFile()
    {
        var bytes = TestModels.Rich().ToBytes();
        int failures = 0;
        for (int cut = 1; cut < bytes.Length; cut += 7)
        {
            try { OnnxModel.Load(bytes.AsMemory(0, cut), "cut.onnx"); }
            catch (InvalidDataException e)
            {
                Assert.Contains("cut.onnx", e.Message);
                failures++;
            }
        }
        // Every cut inside the graph field must fail (a cut exactly between top-level fields may parse).
        Assert.True(failures >= (bytes.Length / 7) - 3, $"only {failures} cuts failed");
    }

    [Fact]
    public void TruncatedFile_OnDisk_MessageNamesPathAndField()
    {
        string dir = Directory.CreateTempSubdirectory("qs-onnx-").FullName;
        try
        {
            string path = Path.Combine(dir, "trunc.onnx");
            var bytes = TestModels.Rich().ToBytes();
            File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
            var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("'graph' (#7)", e.Message);
            Assert.Contains("runs past the end", e.Message);
            Assert.Equal(path, e.Data[OnnxFormatError.FileKey]);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void WrongWireType_InNestedAttribute_NamesMessagePathAndField()
    {
        var m = TestModels.Rich();
        // Corrupt node[0].attribute[1]: append a "type" field (20) written as a string instead of a varint.
        var bad = new OnnxAttribute { Name = "pads" };
        var ms = new MemoryStream();
        using (var w = new ProtoWriter(ms)) w.WriteString(20, "INTS");
        bad.UnknownFields.Add(ms.ToArray());
        m.Graph.Nodes[0].Attributes[1] = bad;
        var e = LoadFails(m.ToBytes());
        Assert.Contains("graph.node[0].attribute[1]", e.Message);
        Assert.Contains("'type' (#20)", e.Message);
        Assert.Contains("expected wire type Varint, got LengthDelimited", e.Message);
        Assert.Equal("graph.node[0].attribute[1]", e.Data[OnnxFormatError.MessagePathKey]);
    }

    [Fact]
    public void VarintOverflow_InIrVersion_Throws()
    {
        var e = LoadFails([0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        Assert.Contains("varint overflow", e.Message);
        Assert.Contains("'ir_version' (#1)", e.Message);
        Assert.Contains("top-level message", e.Message);
    }

    [Fact]
    public void LengthPastEnd_InGraph_Throws()
    {
        var e = LoadFails([0x08, 0x07, 0x3A, 0x40, 0x0A, 0x00]);
        Assert.Contains("'graph' (#7)", e.Message);
        Assert.Contains("length 64", e.Message);
    }

    [Fact]
    public void MissingGraph_Throws()
    {
        var e = LoadFails([0x08, 0x07, 0x12, 0x02, 0x71, 0x73]);
        Assert.Contains("bad.onnx", e.Message);
        Assert.Contains("has no graph", e.Message);
        Assert.Contains("'graph' (#7)", e.Message);
    }

    [Fact]
    public void SparseInitializer_IsRejectedClearly()
    {
        // graph { sparse_initializer (15) {} }
        var e = LoadFails([0x08, 0x07, 0x3A, 0x02, 0x7A, 0x00]);
        Assert.Contains("'sparse_initializer' (#15)", e.Message);
        Assert.Contains("not supported", e.Message);
    }

    [Fact]
    public void TensorSegment_IsRejectedNamingTheInitializer()
    {
        // graph { initializer (5) { segment (3) {} } }
        var e = LoadFails([0x08, 0x07, 0x3A, 0x04, 0x2A, 0x02, 0x1A, 0x00]);
        Assert.Contains("graph.initializer[0]", e.Message);
        Assert.Contains("'segment' (#3)", e.Message);
    }

    [Fact]
    public void EmptyInput_ThrowsMissingGraph()
    {
        var e = LoadFails([], null);
        Assert.Contains("<bytes>", e.Message);
        Assert.Contains("has no graph", e.Message);
    }

    [Fact]
    public void DeeplyNestedSubgraphs_AreRejectedWithPath()
    {
        var g = new OnnxGraph { Name = "leaf" };
        for (int i = 0; i < 40; i++)
        {
            var node = new OnnxNode { OpType = "If" };
            node.Attributes.Add(OnnxAttribute.Graph("then_branch", g));
            g = new OnnxGraph();
            g.Nodes.Add(node);
        }
        var m = new OnnxModel { IrVersion = 8, Graph = g };
        var e = LoadFails(m.ToBytes());
        Assert.Contains("nested deeper than 100", e.Message);
        Assert.Contains("graph.node[0].attribute[0].g.node[0]", e.Message);
    }
}
