using QuantSharp.Engine;
using QuantSharp.Onnx;

namespace QuantSharp.Onnx.Tests;

/// <summary>Hand-built models exercising every field the object model keeps.</summary>
internal static class TestModels
{
    public static OnnxModel Rich()
    {
        var m = new OnnxModel
        {
            IrVersion = 8,
            ProducerName = "QuantSharp.Tests",
            ProducerVersion = "0.1",
            Domain = "ai.quantsharp",
            ModelVersion = 3,
            DocString = "a rich model",
        };
        m.OpsetImport.Add(new OnnxOperatorSetId("", 13));
        m.OpsetImport.Add(new OnnxOperatorSetId("com.microsoft", 1));
        m.MetadataProps.Add(new OnnxStringEntry("author", "tests"));

        var g = m.Graph;
        g.Name = "main";
        g.DocString = "graph doc";
        g.Inputs.Add(OnnxValueInfo.Tensor("x", OnnxDataType.Float, "N", 3, null, 4L));
        g.Outputs.Add(OnnxValueInfo.Tensor("y", OnnxDataType.Float, "N", 8));
        g.ValueInfo.Add(new OnnxValueInfo { Name = "h", DocString = "no shape", Type = new OnnxType { Tensor = new OnnxTensorType { ElemType = OnnxDataType.Float } } });
        g.ValueInfo.Add(OnnxValueInfo.Tensor("scalar", OnnxDataType.Int64));

        var w = Tensor.RandomNormal(new Random(7), 0, 1, 8, 3, 3, 3);
        g.Initializers.Add(OnnxTensor.FromTensor(w, "w"));
        g.Initializers.Add(OnnxTensor.FromTensor(Tensor.FromArray(new sbyte[] { -8, 7, 0, 1, -1 }, 5), OnnxDataType.Int4, "w_int4"));
        var typed = new OnnxTensor { Name = "typed", DataType = OnnxDataType.Int64, DocString = "int64_data" };
        typed.Dims.Add(3);
        typed.Int64Data.AddRange([-1, 0, long.MaxValue]);
        g.Initializers.Add(typed);
        var floats = new OnnxTensor { Name = "fl", DataType = OnnxDataType.Float };
        floats.Dims.Add(2);
        floats.FloatData.AddRange([1.5f, -2f]);
        g.Initializers.Add(floats);
        var empty = new OnnxTensor { Name = "empty", DataType = OnnxDataType.Float, RawData = ReadOnlyMemory<byte>.Empty };
        empty.Dims.Add(0);
        g.Initializers.Add(empty);

        var conv = new OnnxNode { Name = "conv0", OpType = "Conv", DocString = "conv doc" };
        conv.Inputs.AddRange(["x", "w", ""]);
        conv.Outputs.Add("h");
        conv.Attributes.Add(OnnxAttribute.IntList("kernel_shape", 3, 3));
        conv.Attributes.Add(OnnxAttribute.IntList("pads", 1, 1, 1, 1));
        conv.Attributes.Add(OnnxAttribute.Int("group", 1));
        conv.Attributes.Add(OnnxAttribute.Float("alpha", 0.25f));
        conv.Attributes.Add(OnnxAttribute.String("auto_pad", "NOTSET"));
        conv.Attributes.Add(OnnxAttribute.FloatList("scales", 1f, 0.5f));
        conv.Attributes.Add(OnnxAttribute.StringList("names", "a", "β"));
        conv.Attributes.Add(OnnxAttribute.Tensor("value", OnnxTensor.FromTensor(Tensor.FromArray(new[] { 1L, 2L }, 2), "c")));
        var tensors = new OnnxAttribute { Name = "tensors", Type = OnnxAttributeType.Tensors, DocString = "list" };
        tensors.Tensors.Add(OnnxTensor.FromTensor(Tensor.FromArray(new[] { true, false }, 2)));
        conv.Attributes.Add(tensors);
        conv.Attributes.Add(new OnnxAttribute { Name = "ref", Type = OnnxAttributeType.Float, RefAttrName = "parent_alpha" });
        g.Nodes.Add(conv);

        var body = new OnnxGraph { Name = "body" };
        var id = new OnnxNode { OpType = "Identity", Domain = "" };
        id.Inputs.Add("h");
        id.Outputs.Add("y_then");
        body.Nodes.Add(id);
        body.Outputs.Add(OnnxValueInfo.Tensor("y_then", OnnxDataType.Float));
        var iff = new OnnxNode { Name = "if0", OpType = "If", Domain = "" };
        iff.Inputs.Add("cond");
        iff.Outputs.Add("y");
        iff.Attributes.Add(OnnxAttribute.Graph("then_branch", body));
        var graphs = new OnnxAttribute { Name = "branches", Type = OnnxAttributeType.Graphs };
        graphs.Graphs.Add(new OnnxGraph { Name = "empty_branch" });
        iff.Attributes.Add(graphs);
        g.Nodes.Add(iff);

        var custom = new OnnxNode { OpType = "QuantizeDequantize", Domain = "ai.quantsharp" };
        custom.Inputs.Add("y");
        custom.Outputs.Add("yq");
        g.Nodes.Add(custom);
        return m;
    }
}
