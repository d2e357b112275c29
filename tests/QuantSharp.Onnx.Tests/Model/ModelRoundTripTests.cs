using QuantSharp.Onnx;
using QuantSharp.Onnx.Protobuf;

namespace QuantSharp.Onnx.Tests.Model;

public class ModelRoundTripTests
{
    [Fact]
    public void RichModel_SaveThenLoad_GivesIdenticalObjectModelAndBytes()
    {
        var m = TestModels.Rich();
        var bytes = m.ToBytes();
        var back = OnnxModel.Load(bytes);
        ModelComparer.AssertEqual(m, back);
        Assert.Equal(bytes, back.ToBytes());
    }

    [Fact]
    public void RichModel_KeepsAttributeKindsShapesAndPresence()
    {
        var back = OnnxModel.Load(TestModels.Rich().ToBytes());
        var conv = back.Graph.Nodes[0];
        Assert.Equal("NOTSET", conv.FindAttribute("auto_pad")!.StringValue);
        Assert.Equal(["a", "β"], conv.FindAttribute("names")!.Strings.Select(s => System.Text.Encoding.UTF8.GetString(s)));
        Assert.Equal("parent_alpha", conv.FindAttribute("ref")!.RefAttrName);
        Assert.Equal("", conv.Inputs[2]);
        var dims = back.Graph.Inputs[0].Type!.Tensor!.Shape!.Dims;
        Assert.Equal("N", dims[0].Param);
        Assert.Equal(3, dims[1].Value);
        Assert.True(dims[2].Value is null && dims[2].Param is null);
        Assert.Null(back.Graph.ValueInfo[0].Type!.Tensor!.Shape);          // unknown rank
        Assert.Empty(back.Graph.ValueInfo[1].Type!.Tensor!.Shape!.Dims);  // scalar
        var empty = back.Graph.FindInitializer("empty")!;
        Assert.NotNull(empty.RawData);                                    // present although empty
        Assert.Equal(0, empty.RawData!.Value.Length);
        Assert.Equal("body", back.Graph.Nodes[1].FindAttribute("then_branch")!.G!.Name);
        Assert.Equal("ai.quantsharp", back.Graph.Nodes[2].Domain);
        Assert.Equal(1, back.OpsetVersion("com.microsoft"));
    }

    [Fact]
    public void UnknownFields_AreKeptVerbatimAndWrittenBack()
    {
        var m = TestModels.Rich();
        // ModelProto.functions (25) and an unknown future field in a node (99, varint), both opaque to us.
        var ms = new MemoryStream();
        using (var w = new ProtoWriter(ms))
        {
            w.WriteBytes(25, [0x0A, 0x01, 0x66]);
            w.WriteInt64(99, 12345);
        }
        byte[] fields = ms.ToArray();
        var bytes = m.ToBytes().Concat(fields).ToArray();
        var back = OnnxModel.Load(bytes);
        Assert.Equal(2, back.UnknownFields.Count);
        Assert.Equal(fields, back.UnknownFields.SelectMany(f => f.ToArray()).ToArray());
        Assert.Equal(bytes, back.ToBytes());
    }

    [Fact]
    public void Save_ToPath_IsAtomicAndOverwrites()
    {
        string dir = Directory.CreateTempSubdirectory("qs-onnx-").FullName;
        try
        {
            string path = Path.Combine(dir, "model.onnx");
            File.WriteAllText(path, "old content");
            var m = TestModels.Rich();
            m.Save(path);
            Assert.Equal(new[] { path }, Directory.GetFiles(dir));   // no temp file left behind
            ModelComparer.AssertEqual(m, OnnxModel.Load(path));
            Assert.Equal(m.ToBytes(), File.ReadAllBytes(path));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Load_FromStream_EqualsLoadFromBytes()
    {
        var bytes = TestModels.Rich().ToBytes();
        var fromStream = OnnxModel.Load(new MemoryStream(bytes), "mem");
        ModelComparer.AssertEqual(OnnxModel.Load(bytes), fromStream);
        var ms = new MemoryStream();
        fromStream.Save(ms);
        Assert.Equal(bytes, ms.ToArray());
    }

    [Fact]
    public void RawData_AfterLoad_IsASliceOfTheInputBuffer()
    {
        var bytes = TestModels.Rich().ToBytes();
        var back = OnnxModel.Load(bytes);
        var raw = back.Graph.FindInitializer("w")!.RawData!.Value;
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(raw, out var segment));
        Assert.Same(bytes, segment.Array);
    }

    [Fact]
    public void TensorFile_SaveThenLoad_RoundTrips()
    {
        string dir = Directory.CreateTempSubdirectory("qs-onnx-").FullName;
        try
        {
            var t = TestModels.Rich().Graph.Initializers[0];
            string path = Path.Combine(dir, "input_0.pb");
            File.WriteAllBytes(path, t.ToBytes());
            var back = OnnxTensor.Load(path);
            ModelComparer.AssertEqual(t, back, "tensor");
        }
        finally { Directory.Delete(dir, true); }
    }
}
