using QuantSharp.Engine;
using QuantSharp.Onnx.Export;
using QuantSharp.Onnx.Import;
using Xunit.Abstractions;

namespace QuantSharp.Onnx.Tests.Import;

public class ImportExportTests(ITestOutputHelper output)
{
    private static OnnxModel HandMade()
    {
        var model = new OnnxModel { IrVersion = 9, ProducerName = "handmade", ProducerVersion = "1.2", DocString = "model doc", ModelVersion = 3, Domain = "org.test" };
        model.OpsetImport.Add(new OnnxOperatorSetId("", 17));
        model.OpsetImport.Add(new OnnxOperatorSetId("com.quantsharp", 1));
        model.MetadataProps.Add(new OnnxStringEntry("author", "me"));
        var g = model.Graph;
        g.Name = "main";
        g.DocString = "graph doc";
        g.Inputs.Add(OnnxValueInfo.Tensor("x", OnnxDataType.Float, "batch", 3, null));
        g.Inputs.Add(OnnxValueInfo.Tensor("w", OnnxDataType.Float, 4, 3));
        g.Outputs.Add(OnnxValueInfo.Tensor("y", OnnxDataType.Float, "batch", 4));
        g.ValueInfo.Add(OnnxValueInfo.Tensor("h", OnnxDataType.Float, "batch", 4));
        g.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new float[] { 1, -2, 3.5f, float.NaN, 0, 1e-30f, 7, 8, 9, 10, 11, 12 }, 4, 3), "w"));
        g.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new long[] { 1, -1 }, 2), "shape"));
        g.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new bool[] { true, false, true }, 3), "mask"));
        g.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new sbyte[] { -8, 7, 3 }, 3), OnnxDataType.Int4, "q4"));
        var gemm = new OnnxNode { OpType = "Gemm", Name = "fc", DocString = "node doc" };
        gemm.Inputs.AddRange(["x", "w", ""]);
        gemm.Outputs.Add("h");
        gemm.Attributes.Add(OnnxAttribute.Int("transB", 1));
        gemm.Attributes.Add(OnnxAttribute.Float("alpha", 0.5f));
        g.Nodes.Add(gemm);
        var custom = new OnnxNode { OpType = "Custom", Domain = "com.quantsharp", Name = "everything" };
        custom.Inputs.Add("h");
        custom.Outputs.Add("y");
        custom.Attributes.Add(OnnxAttribute.String("s", "héllo"));
        custom.Attributes.Add(OnnxAttribute.FloatList("fs", 1.5f, -0f));
        custom.Attributes.Add(OnnxAttribute.IntList("is", 1, long.MaxValue));
        custom.Attributes.Add(OnnxAttribute.StringList("ss", "a", ""));
        custom.Attributes.Add(OnnxAttribute.Tensor("t", OnnxTensor.FromTensor(Tensor.FromArray(new int[] { 5, 6 }, 2))));
        var ts = new OnnxAttribute { Name = "ts", Type = OnnxAttributeType.Tensors };
        ts.Tensors.Add(OnnxTensor.FromTensor(Tensor.FromArray(new double[] { 0.25 }, 1)));
        custom.Attributes.Add(ts);
        var body = new OnnxGraph { Name = "body" };
        body.Outputs.Add(OnnxValueInfo.Tensor("b_out", OnnxDataType.Float, 4));
        var relu = new OnnxNode { OpType = "Relu" };
        relu.Inputs.Add("h");
        relu.Outputs.Add("b_out");
        body.Nodes.Add(relu);
        custom.Attributes.Add(OnnxAttribute.Graph("g", body));
        var gs = new OnnxAttribute { Name = "gs", Type = OnnxAttributeType.Graphs };
        gs.Graphs.Add(new OnnxGraph { Name = "empty" });
        custom.Attributes.Add(gs);
        g.Nodes.Add(custom);
        return model;
    }

    [Fact]
    public void HandMadeModel_ImportsEveryField()
    {
        var graph = OnnxImporter.ToGraph(HandMade());
        Assert.Equal("main", graph.Name);
        Assert.Equal("graph doc", graph.DocString);
        Assert.Equal(17, graph.Opsets[""]);
        Assert.Equal(1, graph.Opsets["com.quantsharp"]);
        Assert.Equal("handmade", graph.Metadata[OnnxMetadataKeys.ProducerName]);
        Assert.Equal("model doc", graph.Metadata[OnnxMetadataKeys.DocString]);
        Assert.Equal("me", graph.Metadata["author"]);
        // 'w' is an initializer listed as an input: by default it is a parameter only.
        Assert.Equal(["x"], graph.Inputs.Select(i => i.Name));
        Assert.Equal([Dim.Symbolic("batch"), Dim.Fixed(3), Dim.Unknown], graph.Inputs[0].Shape!);
        Assert.Equal(DataType.Int4, graph.Initializers["q4"].DataType);
        Assert.Equal(new sbyte[] { -8, 7, 3 }, ((Tensor<sbyte>)graph.Initializers["q4"]).Data);
        var custom = graph.Nodes[1];
        Assert.Equal("com.quantsharp", custom.Domain);
        Assert.Equal("héllo", custom.GetString("s", ""));
        Assert.Equal(["a", ""], custom.Attributes["ss"].AsStrings());
        Assert.Equal("b_out", custom.Attributes["g"].AsGraph().Outputs[0].Name);
        Assert.Equal(["x", "w", ""], graph.Nodes[0].Inputs);
        Assert.Equal("", graph.Nodes[0].Inputs[2]);
        Assert.Equal("node doc", graph.Nodes[0].DocString);
    }

    [Fact]
    public void KeepInitializerInputs_KeepsThemAsOverridableInputs()
    {
        var graph = OnnxImporter.ToGraph(HandMade(), new OnnxImportOptions { KeepInitializerInputs = true });
        Assert.Equal(["x", "w"], graph.Inputs.Select(i => i.Name));
        Assert.True(graph.Initializers.ContainsKey("w"));
    }

    [Fact]
    public void HandMadeModel_ImportExportImport_IsIdentical()
    {
        var first = OnnxImporter.ToGraph(HandMade());
        var bytes = OnnxExporter.FromGraph(first).ToBytes();
        var second = OnnxImporter.ToGraph(OnnxModel.Load(bytes));
        Assert.Null(GraphComparer.Difference(first, second));
        Assert.Equal(9, OnnxModel.Load(bytes).IrVersion);
        Assert.Equal("handmade", OnnxModel.Load(bytes).ProducerName);
        Assert.Single(OnnxModel.Load(bytes).MetadataProps);
    }

    [Fact]
    public void Save_ThenLoad_IsIdentical()
    {
        var first = OnnxImporter.ToGraph(HandMade());
        string path = Path.Combine(Path.GetTempPath(), $"qs-import-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Save(first, path);
            Assert.Null(GraphComparer.Difference(first, OnnxImporter.Load(path)));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void GraphWithoutIrVersion_ExportsDefaultIrVersion()
    {
        var g = new Graph();
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 2));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, 2));
        g.Nodes.Add(new Node("Relu", ["x"], ["y"]));
        var model = OnnxExporter.FromGraph(g);
        Assert.Equal(OnnxExporter.DefaultIrVersion, model.IrVersion);
        Assert.Equal(17, model.OpsetVersion());
    }

    [Fact]
    public void EmptyTypeOnMainGraphInput_ThrowsNamingTheInput()
    {
        var model = HandMade();
        model.Graph.Inputs[0].Type = new OnnxType();
        var e = Assert.Throws<InvalidDataException>(() => OnnxImporter.ToGraph(model));
        Assert.Contains("input 'x'", e.Message);
        Assert.Contains("expected a tensor, sequence or optional type, got none", e.Message);
    }

    [Fact]
    public void StringInitializer_ThrowsNamingTheTensor()
    {
        var model = HandMade();
        model.Graph.Initializers.Add(new OnnxTensor { Name = "words", DataType = OnnxDataType.String });
        var e = Assert.Throws<InvalidDataException>(() => OnnxImporter.ToGraph(model));
        Assert.Contains("'words'", e.Message);
        Assert.Contains("STRING", e.Message);
    }

    [Fact]
    public void BadAttributeTensor_ThrowsNamingNodeAndAttribute()
    {
        var model = HandMade();
        model.Graph.Nodes[1].Attributes.Add(OnnxAttribute.Tensor("bad", new OnnxTensor { DataType = OnnxDataType.Complex64 }));
        var e = Assert.Throws<InvalidDataException>(() => OnnxImporter.ToGraph(model));
        Assert.Contains("Custom 'everything'", e.Message);
        Assert.Contains("attribute 'bad'", e.Message);
    }

    [Fact]
    public void AttributeWithoutType_TypeInferredFromItsValueField()
    {
        var model = HandMade();
        var node = model.Graph.Nodes[0];
        node.Attributes.Add(new OnnxAttribute { Name = "legacy_ints" });
        node.Attributes[^1].Ints.AddRange([1, 2]);
        node.Attributes.Add(new OnnxAttribute { Name = "legacy_int", I = 5 });
        var graph = OnnxImporter.ToGraph(model);
        Assert.Equal([1L, 2L], graph.Nodes[0].GetInts("legacy_ints")!);
        Assert.Equal(5, graph.Nodes[0].GetInt("legacy_int", 0));
        node.Attributes.Add(new OnnxAttribute { Name = "empty" });
        var e = Assert.Throws<InvalidDataException>(() => OnnxImporter.ToGraph(model));
        Assert.Contains("Gemm 'fc') attribute 'empty'", e.Message);
    }

    [Fact]
    public void DuplicateInitializer_ThrowsNamingIt()
    {
        var model = HandMade();
        model.Graph.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new long[] { 1 }, 1), "shape"));
        var e = Assert.Throws<InvalidDataException>(() => OnnxImporter.ToGraph(model));
        Assert.Contains("'shape' is defined twice", e.Message);
    }

    /// <summary>Every backend-test model whose tensors convert: ONNX → Graph → ONNX → Graph is identical, initializer bytes included.</summary>
    [Fact]
    [Trait("Category", "OnnxTestData")]
    public void EveryTestDataModel_ImportExportImport_IsIdentical()
    {
        const string root = "/usr/share/libonnx-testdata/data";
        if (!Directory.Exists(root)) { Assert.Fail($"{root} is absent (install libonnx-testdata)"); return; }
        int identical = 0, notConvertible = 0;
        var failures = new List<string>();
        foreach (var suite in new[] { "node", "simple", "pytorch-converted", "pytorch-operator" })
            foreach (var path in Directory.EnumerateFiles(Path.Combine(root, suite), "model.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                Graph first;
                try { first = OnnxImporter.Load(path); }
                catch (InvalidDataException) { notConvertible++; continue; }
                try
                {
                    var second = OnnxImporter.ToGraph(OnnxModel.Load(OnnxExporter.FromGraph(first).ToBytes()));
                    if (GraphComparer.Difference(first, second) is { } d) failures.Add($"{path}: {d}");
                    else identical++;
                }
                catch (Exception e) { failures.Add($"{path}: {e.GetType().Name}: {e.Message}"); }
            }
        output.WriteLine($"{identical} identical, {notConvertible} not convertible (string/complex/float8 tensors or non-tensor types), {failures.Count} failed");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.True(identical > 900, $"only {identical} models converted");
    }
}
