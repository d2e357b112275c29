using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Export;
using QuantSharp.Onnx.Import;

namespace QuantSharp.Onnx.Tests.Import;

/// <summary>Sequence, optional and undeclared value types through import and export, value files, and the map-type error.</summary>
public class NonTensorTypesTests
{
    private const string TestData = "/usr/share/libonnx-testdata/data/node";

    private static OnnxType TensorType(OnnxDataType t, params object?[] dims) => OnnxValueInfo.Tensor("", t, dims).Type!;

    private static OnnxModel Model()
    {
        var model = new OnnxModel { IrVersion = 8 };
        model.OpsetImport.Add(new OnnxOperatorSetId("", 18));
        var g = model.Graph;
        g.Name = "types";
        g.Inputs.Add(new OnnxValueInfo { Name = "s", Type = OnnxType.SequenceOf(TensorType(OnnxDataType.Float, "n", 2)) });
        g.Inputs.Add(new OnnxValueInfo { Name = "o", Type = OnnxType.OptionalOf(TensorType(OnnxDataType.Int64)) });
        g.Inputs.Add(new OnnxValueInfo { Name = "os", Type = OnnxType.OptionalOf(OnnxType.SequenceOf(TensorType(OnnxDataType.Int32, 3))) });
        g.Outputs.Add(new OnnxValueInfo { Name = "len", Type = TensorType(OnnxDataType.Int64) });
        var n = new OnnxNode { OpType = "SequenceLength" };
        n.Inputs.Add("s");
        n.Outputs.Add("len");
        g.Nodes.Add(n);
        return model;
    }

    [Fact]
    public void SequenceAndOptionalValueInfos_ImportAsTheirKinds_AndExportBackToTheSameTypes()
    {
        var graph = OnnxImporter.ToGraph(Model());
        Assert.Equal([ValueKind.Sequence, ValueKind.Optional, ValueKind.OptionalSequence], graph.Inputs.Select(i => i.Kind));
        Assert.Equal([DataType.Float32, DataType.Int64, DataType.Int32], graph.Inputs.Select(i => i.ElementType));
        Assert.Equal("s: seq(Float32[n,2])", graph.Inputs[0].ToString());

        var exported = OnnxExporter.FromGraph(graph);
        Assert.Equal(Model().Graph.Inputs.Select(v => Convert.ToHexString(new OnnxModel { Graph = { Inputs = { v } } }.ToBytes())),
            exported.Graph.Inputs.Select(v => Convert.ToHexString(new OnnxModel { Graph = { Inputs = { v } } }.ToBytes())));

        var s = new Session(graph);
        var run = s.Run(new Dictionary<string, Tensor>
        {
            ["s"] = new TensorSequence(DataType.Float32, [Tensor.Zeros(1, 2), Tensor.Zeros(4, 2)]),
            ["o"] = OptionalValue.None(DataType.Int64),
            ["os"] = new OptionalValue(TensorSequence.Empty(DataType.Int32)),
        });
        Assert.Equal(2L, ((Tensor<long>)run.Outputs["len"]).Data[0]);
    }

    [Fact]
    public void MapTypedInput_ThrowsNamingTheValueAndMapTypes()
    {
        var model = Model();
        var map = new OnnxType();
        map.UnknownFields.Add(new byte[] { 5 << 3 | 2, 2, 0x08, 0x07 }); // map_type { key_type: INT64 }
        model.Graph.Inputs[1].Type = map;
        var e = Assert.Throws<InvalidDataException>(() => OnnxImporter.ToGraph(model));
        Assert.Contains("input 'o'", e.Message);
        Assert.Contains("map types are not supported", e.Message);
    }

    [Fact]
    public void SubgraphValueWithoutType_ImportsUntyped_AndExportsWithoutType()
    {
        var model = Model();
        var body = new OnnxGraph { Name = "branch" };
        body.Outputs.Add(new OnnxValueInfo { Name = "len" });
        var node = new OnnxNode { OpType = "If" };
        node.Inputs.Add("c");
        node.Outputs.Add("y");
        node.Attributes.Add(OnnxAttribute.Graph("then_branch", body));
        model.Graph.Nodes.Add(node);
        var graph = OnnxImporter.ToGraph(model);
        var imported = graph.Nodes[1].Attributes["then_branch"].AsGraph().Outputs[0];
        Assert.Equal(ValueKind.Untyped, imported.Kind);
        var exported = OnnxExporter.FromGraph(graph).Graph.Nodes[1].Attributes[0].G!.Outputs[0];
        Assert.Null(exported.Type);
    }

    [Fact]
    public void ValueFiles_SequenceAndOptionalProtos_ReadAsEngineValues()
    {
        string seqCase = Path.Combine(TestData, "test_sequence_insert_at_back"), optCase = Path.Combine(TestData, "test_optional_has_element_empty");
        if (!Directory.Exists(seqCase) || !Directory.Exists(optCase))
            Assert.Fail($"ONNX backend test data missing under {TestData} (install the Debian package libonnx-testdata)");
        var seqGraph = OnnxImporter.Load(Path.Combine(seqCase, "model.onnx"));
        var seq = Assert.IsType<TensorSequence>(OnnxValueFile.Load(Path.Combine(seqCase, "test_data_set_0", "input_0.pb"), seqGraph.Inputs[0]));
        Assert.True(seq.Count > 0);
        var optGraph = OnnxImporter.Load(Path.Combine(optCase, "model.onnx"));
        var opt = Assert.IsType<OptionalValue>(OnnxValueFile.Load(Path.Combine(optCase, "test_data_set_0", "input_0.pb"), optGraph.Inputs[0]));
        Assert.False(opt.HasValue);
    }

    [Fact]
    public void OptionalTypeAttribute_ImportsAsTypeAttribute_AndExportsTheSameBytes()
    {
        string model = Path.Combine(TestData, "test_if_opt", "model.onnx");
        if (!File.Exists(model)) Assert.Fail($"ONNX backend test data missing: {model} (install the Debian package libonnx-testdata)");
        var onnx = OnnxModel.Load(model);
        var graph = OnnxImporter.ToGraph(onnx);
        var optional = graph.Nodes[0].Attributes.Values.SelectMany(a => a.Kind == AttributeKind.Graph ? a.AsGraph().Nodes : Enumerable.Empty<Node>())
            .First(n => n.OpType == "Optional" && n.Attributes.ContainsKey("type"));
        Assert.Equal(AttributeKind.Type, optional.Attributes["type"].Kind);
        var again = OnnxImporter.ToGraph(OnnxModel.Load(OnnxExporter.FromGraph(graph).ToBytes()));
        var optionalAgain = again.Nodes[0].Attributes.Values.SelectMany(a => a.Kind == AttributeKind.Graph ? a.AsGraph().Nodes : Enumerable.Empty<Node>())
            .First(n => n.OpType == "Optional" && n.Attributes.ContainsKey("type"));
        Assert.Equal(optional.Attributes["type"].AsType().ToString(), optionalAgain.Attributes["type"].AsType().ToString());
    }
}
