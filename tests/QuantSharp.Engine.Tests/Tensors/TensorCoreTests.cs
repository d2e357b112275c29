using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors;

public class TensorCoreTests
{
    [Fact]
    public void Reshape_InfersMinusOne_AndSharesData()
    {
        var t = new Tensor<float>(2, 3, 4);
        var r = t.Reshape(6, -1);
        Assert.Equal([6, 4], r.Shape);
        r.Data[5] = 7f;
        Assert.Equal(7f, t.Data[5]);
    }

    [Fact]
    public void Reshape_WrongCount_NamesOpAndShapes()
    {
        var ex = Assert.Throws<ShapeException>(() => new Tensor<float>(2, 3).Reshape(4, 2));
        Assert.Contains("Reshape", ex.Message);
        Assert.Contains("[2,3]", ex.Message);
        Assert.Contains("[4,2]", ex.Message);
    }

    [Fact]
    public void Indexer_IsRowMajor()
    {
        var t = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        Assert.Equal(23f, t[1, 2, 3]);
        Assert.Equal(13f, t[1, 0, 1]);
        Assert.Throws<ShapeException>(() => t[2, 0, 0]);
    }

    [Fact]
    public void Broadcast_FollowsNumpyRules()
    {
        Assert.Equal([2, 3, 4], Shapes.Broadcast([3, 1], [2, 1, 4]));
        Assert.Equal([5], Shapes.Broadcast([], [5]));
        var ex = Assert.Throws<ShapeException>(() => Shapes.Broadcast([2, 3], [4], "Add"));
        Assert.Contains("Add", ex.Message);
        Assert.Equal([0, 1, 0], Shapes.BroadcastStrides([3, 1], [2, 3, 4]));
    }

    [Fact]
    public void Axis_OutOfRange_NamesOpAndArgument()
    {
        Assert.Equal(2, Check.Axis("ReduceSum", "axes", -1, 3));
        var ex = Assert.Throws<ShapeException>(() => Check.Axis("ReduceSum", "axes", 3, 3));
        Assert.Contains("ReduceSum", ex.Message);
        Assert.Contains("axes", ex.Message);
    }

    [Fact]
    public void DataType_MapsClrTypes()
    {
        Assert.Equal(DataType.Int8, new Tensor<sbyte>(2).DataType);
        Assert.Equal(DataType.Bool, new Tensor<bool>(2).DataType);
        Assert.Equal(DataType.Int64, Tensor.Scalar(3L).DataType);
    }
}

public class TensorAllocationTests
{
    [Fact]
    public void Uninitialized_HasShapeAndLength()
    {
        var t = Tensor<float>.Uninitialized([2, 3, 4]);
        Assert.Equal([2, 3, 4], t.Shape);
        Assert.Equal(24, t.Data.Length);
    }
}

public class FourBitElementTypeTests
{
    [Fact]
    public void AsElementType_Int4_DeclaresTypeAndSurvivesReshapeAndClone()
    {
        var t = Tensor.FromArray(new sbyte[] { -8, 0, 7, 3 }, 4).AsElementType(DataType.Int4);
        Assert.Equal(DataType.Int4, t.DataType);
        Assert.Equal(DataType.Int4, t.Reshape(2, 2).DataType);
        Assert.Equal(DataType.Int4, t.Clone().DataType);
        Assert.Equal(DataType.Int8, t.AsElementType(DataType.Int8).DataType);
    }

    [Fact]
    public void AsElementType_OutOfRangeOrWrongStorage_NamesValueAndType()
    {
        var ex = Assert.Throws<ShapeException>(() => Tensor.FromArray(new byte[] { 3, 16 }, 2).AsElementType(DataType.UInt4));
        Assert.Contains("element 1", ex.Message);
        Assert.Contains("[0, 15]", ex.Message);
        Assert.Throws<ShapeException>(() => Tensor.FromArray(new byte[] { 3 }, 1).AsElementType(DataType.Int4));
    }

    [Fact]
    public void QuantizeLinear_Int4ZeroPoint_SaturatesToFourBits()
    {
        var b = new GraphBuilder("q4", opset: 21);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(5));
        var scale = b.Initializer("s", Tensor.Scalar(1f));
        var zero = b.Initializer("z", Tensor.Scalar((sbyte)0).AsElementType(DataType.Int4));
        b.Output(b.QuantizeLinear(x, scale, zero), DataType.Int4);
        var session = new QuantSharp.Engine.Runtime.Session(b.Build());
        var q = session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([-20f, -8.5f, 2.5f, 3.5f, 100f], 5) });
        var y = (Tensor<sbyte>)q.Outputs.Values.Single();
        Assert.Equal(DataType.Int4, y.DataType);
        Assert.Equal(new sbyte[] { -8, -8, 2, 4, 7 }, y.Data); // half to even: -8.5 → -8, 2.5 → 2, 3.5 → 4
    }
}
