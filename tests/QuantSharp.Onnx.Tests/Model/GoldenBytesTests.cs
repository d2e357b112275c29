using QuantSharp.Engine;
using QuantSharp.Onnx;

namespace QuantSharp.Onnx.Tests.Model;

public class GoldenBytesTests
{
    // ModelProto written out by hand from onnx.proto's field numbers:
    //   ir_version=7, producer_name="qs", graph { node { input "x", output "y", op_type "Relu" }, name "g",
    //   input { name "x", type { tensor_type { elem_type FLOAT, shape { dim { dim_value 3 } } } } },
    //   output { name "y" } }, opset_import { version 13 }
    private static readonly byte[] ReluModel =
    [
        0x08, 0x07,                                           // 1 ir_version = 7
        0x12, 0x02, 0x71, 0x73,                               // 2 producer_name = "qs"
        0x3A, 0x27,                                           // 7 graph, 39 bytes
            0x0A, 0x0C,                                       //   1 node, 12 bytes
                0x0A, 0x01, 0x78,                             //     1 input "x"
                0x12, 0x01, 0x79,                             //     2 output "y"
                0x22, 0x04, 0x52, 0x65, 0x6C, 0x75,           //     4 op_type "Relu"
            0x12, 0x01, 0x67,                                 //   2 name "g"
            0x5A, 0x0F,                                       //   11 input, 15 bytes
                0x0A, 0x01, 0x78,                             //     1 name "x"
                0x12, 0x0A,                                   //     2 type, 10 bytes
                    0x0A, 0x08,                               //       1 tensor_type, 8 bytes
                        0x08, 0x01,                           //         1 elem_type FLOAT
                        0x12, 0x04, 0x0A, 0x02, 0x08, 0x03,   //         2 shape { dim { dim_value 3 } }
            0x62, 0x03, 0x0A, 0x01, 0x79,                     //   12 output { name "y" }
        0x42, 0x02, 0x10, 0x0D,                               // 8 opset_import { version 13 }
    ];

    [Fact]
    public void GoldenReluModel_ParsesToExpectedFields()
    {
        var m = OnnxModel.Load(ReluModel);
        Assert.Equal(7, m.IrVersion);
        Assert.Equal("qs", m.ProducerName);
        Assert.Equal(13, m.OpsetVersion());
        Assert.Equal("", m.OpsetImport[0].Domain);
        Assert.Equal("g", m.Graph.Name);
        var node = Assert.Single(m.Graph.Nodes);
        Assert.Equal("Relu", node.OpType);
        Assert.Equal(["x"], node.Inputs);
        Assert.Equal(["y"], node.Outputs);
        var input = Assert.Single(m.Graph.Inputs);
        Assert.Equal("x", input.Name);
        Assert.Equal(OnnxDataType.Float, input.Type!.Tensor!.ElemType);
        Assert.Equal(3, Assert.Single(input.Type.Tensor.Shape!.Dims).Value);
        var output = Assert.Single(m.Graph.Outputs);
        Assert.Equal("y", output.Name);
        Assert.Null(output.Type);
        Assert.Empty(m.UnknownFields);
    }

    [Fact]
    public void GoldenReluModel_ReEncodesToTheSameBytes()
    {
        Assert.Equal(ReluModel, OnnxModel.Load(ReluModel).ToBytes());
    }

    [Fact]
    public void IrVersion1Attribute_WithoutType_TypeIsInferredFromValueField()
    {
        // NodeProto { op_type "Pad", attribute { name "k", ints 2, ints 3 (unpacked) }, attribute { name "v", f 0.5 } }
        byte[] node =
        [
            0x22, 0x03, 0x50, 0x61, 0x64,
            0x2A, 0x07, 0x0A, 0x01, 0x6B, 0x40, 0x02, 0x40, 0x03,
            0x2A, 0x08, 0x0A, 0x01, 0x76, 0x15, 0x00, 0x00, 0x00, 0x3F,
        ];
        byte[] model = [0x08, 0x01, 0x3A, (byte)(node.Length + 2), 0x0A, (byte)node.Length, .. node];
        var m = OnnxModel.Load(model);
        var attrs = m.Graph.Nodes[0].Attributes;
        Assert.Equal(OnnxAttributeType.Ints, attrs[0].Type);
        Assert.Equal([2L, 3L], attrs[0].Ints);
        Assert.Equal(OnnxAttributeType.Float, attrs[1].Type);
        Assert.Equal(0.5f, attrs[1].F);
        // Saving writes the now-known type; loading that again gives the same object model.
        ModelComparer.AssertEqual(m, OnnxModel.Load(m.ToBytes()));
    }

    [Fact]
    public void FloatTensor_EncodesToSpecBytes()
    {
        var t = OnnxTensor.FromTensor(Tensor.FromArray(new[] { 1f, -2f }, 2), "w");
        byte[] expected =
        [
            0x08, 0x02,                    // 1 dims = 2 (unpacked)
            0x10, 0x01,                    // 2 data_type = FLOAT
            0x42, 0x01, 0x77,              // 8 name = "w"
            0x4A, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, // 9 raw_data = 1f, -2f little-endian
        ];
        Assert.Equal(expected, t.ToBytes());
    }

    [Fact]
    public void PackedTypedFields_EncodeToSpecBytes()
    {
        var t = new OnnxTensor { DataType = OnnxDataType.Int32 };
        t.Dims.Add(2);
        t.Int32Data.AddRange([1, 300]);
        // 5 int32_data packed: tag 0x2A, length 3, varints 01 AC 02
        Assert.Equal(new byte[] { 0x08, 0x02, 0x10, 0x06, 0x2A, 0x03, 0x01, 0xAC, 0x02 }, t.ToBytes());
    }

    [Fact]
    public void ExplicitlyEmptyStrings_AreKeptAndWrittenBack_AbsentOnesStayAbsent()
    {
        // ir_version 7, graph {} (present, empty), opset_import { domain "" (present, empty), version 13 }
        byte[] bytes = [0x08, 0x07, 0x3A, 0x00, 0x42, 0x04, 0x0A, 0x00, 0x10, 0x0D];
        var m = OnnxModel.Load(bytes);
        Assert.Equal("", m.OpsetImport[0].Domain);
        Assert.Equal("", m.ProducerName);
        Assert.Equal(bytes, m.ToBytes());
        m.OpsetImport[0] = new OnnxOperatorSetId { Version = 13 };   // domain never set: not written
        Assert.Equal(new byte[] { 0x08, 0x07, 0x3A, 0x00, 0x42, 0x02, 0x10, 0x0D }, m.ToBytes());
    }
}
