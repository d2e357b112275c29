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
