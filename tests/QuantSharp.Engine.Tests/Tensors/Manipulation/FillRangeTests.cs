using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class FillRangeTests
{
    [Fact]
    public void ConstantOfShape_FillsValue()
    {
        var y = TensorOps.ConstantOfShape(Tensor.FromArray([2L, 3], 2), 7);
        Assert.Equal([2, 3], y.Shape);
        Assert.All(y.Data, v => Assert.Equal(7, v));
    }

    [Fact]
    public void ConstantOfShape_EmptyShape_IsScalar()
    {
        var y = TensorOps.ConstantOfShape(new Tensor<long>(0), 1.5f);
        Assert.Equal(0, y.Rank);
        Assert.Equal(1.5f, y.Data[0]);
    }

    [Fact]
    public void ConstantOfShape_NegativeDim_Throws()
    {
        Assert.Throws<ShapeException>(() => TensorOps.ConstantOfShape(Tensor.FromArray([2L, -1], 2), 0f));
    }

    [Fact]
    public void Range_OnnxSpecExamples()
    {
        Assert.Equal([3f, 6, 9], TensorOps.Range(3f, 11f, 3f).Data);
        Assert.Equal([10, 7, 4, 1], TensorOps.Range(10, -2, -3).Data);
        Assert.Equal([10L, 6, 2], TensorOps.Range(10L, 1L, -4L).Data);
        Assert.Empty(TensorOps.Range(1L, 10L, -1L).Data);
        Assert.Equal([0.0, 0.5, 1.0], TensorOps.Range(0.0, 1.25, 0.5).Data);
    }

    [Fact]
    public void Range_ZeroDelta_NamesDelta()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Range(0f, 1f, 0f));
        Assert.Contains("Range: argument 'delta' expected a non-zero step", e.Message);
    }
}
