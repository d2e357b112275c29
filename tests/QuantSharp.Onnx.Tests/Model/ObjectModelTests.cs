using QuantSharp.Onnx;

namespace QuantSharp.Onnx.Tests.Model;

public class ObjectModelTests
{
    [Fact]
    public void ValueInfoTensor_BuildsFixedSymbolicAndUnknownDims()
    {
        var v = OnnxValueInfo.Tensor("x", OnnxDataType.Int8, 2, 5L, "batch", null);
        var dims = v.Type!.Tensor!.Shape!.Dims;
        Assert.Equal(["2", "5", "batch", "?"], dims.Select(d => d.ToString()));
        Assert.Equal(OnnxDataType.Int8, v.Type.Tensor.ElemType);
    }

    [Fact]
    public void ValueInfoTensor_BadDimKind_ThrowsNamingArgument()
    {
        var e = Assert.Throws<ArgumentException>(() => OnnxValueInfo.Tensor("x", OnnxDataType.Float, 1.5));
        Assert.Contains("'dims' expected int, long, string or null entries, got Double", e.Message);
    }

    [Fact]
    public void OpsetVersion_DefaultDomainAcceptsEmptyOrAiOnnx()
    {
        var m = new OnnxModel();
        m.OpsetImport.Add(new OnnxOperatorSetId("ai.onnx", 17));
        m.OpsetImport.Add(new OnnxOperatorSetId("com.microsoft", 1));
        Assert.Equal(17, m.OpsetVersion());
        Assert.Equal(17, m.OpsetVersion("ai.onnx"));
        Assert.Equal(1, m.OpsetVersion("com.microsoft"));
        Assert.Null(m.OpsetVersion("ai.onnx.ml"));
    }

    [Fact]
    public void DataTypeNames_MatchOnnxProto()
    {
        Assert.Equal(1, (int)OnnxDataType.Float);
        Assert.Equal(16, (int)OnnxDataType.BFloat16);
        Assert.Equal(21, (int)OnnxDataType.UInt4);
        Assert.Equal(22, (int)OnnxDataType.Int4);
        Assert.Equal("FLOAT16", OnnxDataTypes.Name(OnnxDataType.Float16));
        Assert.Equal("99", OnnxDataTypes.Name((OnnxDataType)99));
        Assert.Equal(4, OnnxDataTypes.BitsPerElement(OnnxDataType.Int4));
        Assert.Equal(16, OnnxDataTypes.BitsPerElement(OnnxDataType.BFloat16));
    }

    [Fact]
    public void AttributeFactories_SetTypeAndValue()
    {
        Assert.Equal(OnnxAttributeType.Strings, OnnxAttribute.StringList("s", "a").Type);
        Assert.Equal("x", OnnxAttribute.String("s", "x").StringValue);
        Assert.Equal([1L, 2L], OnnxAttribute.IntList("i", 1, 2).Ints);
        Assert.Equal(OnnxAttributeType.Graph, OnnxAttribute.Graph("g", new OnnxGraph()).Type);
    }
}
