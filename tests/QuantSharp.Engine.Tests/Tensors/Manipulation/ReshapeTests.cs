using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class ReshapeTests
{
    private static Tensor<float> Iota(params int[] shape)
    {
        var t = new Tensor<float>(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = i;
        return t;
    }

    [Fact]
    public void Reshape_ZeroCopiesInputDimAndMinusOneInfers()
    {
        var y = TensorOps.Reshape(Iota(2, 3, 4), [0, -1]);
        Assert.Equal([2, 12], y.Shape);
    }

    [Fact]
    public void Reshape_SharesDataWithInput()
    {
        var x = Iota(2, 3);
        Assert.Same(x.Data, TensorOps.Reshape(x, [3, 2]).Data);
    }

    [Fact]
    public void Reshape_AllowZero_TreatsZeroAsLiteral()
    {
        var y = TensorOps.Reshape(new Tensor<float>(0, 3), [3, 0], allowZero: true);
        Assert.Equal([3, 0], y.Shape);
    }

    [Fact]
    public void Reshape_AllowZeroWithMinusOne_Throws()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Reshape(new Tensor<float>(0, 3), [0, -1], allowZero: true));
        Assert.Contains("Reshape", e.Message);
        Assert.Contains("'shape'", e.Message);
    }

    [Fact]
    public void Reshape_WrongElementCount_NamesOpArgumentExpectedActual()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Reshape(Iota(2, 3), [4, 2]));
        Assert.Contains("Reshape: argument 'shape' expected 6 elements", e.Message);
        Assert.Contains("[4,2]", e.Message);
    }

    [Fact]
    public void Reshape_TwoMinusOnes_Throws()
    {
        Assert.Throws<ShapeException>(() => TensorOps.Reshape(Iota(2, 3), [-1, -1]));
    }

    [Theory]
    [InlineData(0, 1, 24)]
    [InlineData(1, 2, 12)]
    [InlineData(3, 24, 1)]
    [InlineData(-1, 6, 4)]
    public void Flatten_Axis_GivesOuterAndInnerProducts(int axis, int outer, int inner)
    {
        Assert.Equal([outer, inner], TensorOps.Flatten(Iota(2, 3, 4), axis).Shape);
    }

    [Fact]
    public void Flatten_AxisOutOfRange_Throws()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Flatten(Iota(2, 3), 3));
        Assert.Contains("Flatten: argument 'axis' expected an axis in [-2, 2], got 3", e.Message);
    }

    [Fact]
    public void Squeeze_NoAxes_RemovesAllOnes()
    {
        Assert.Equal([3, 4], TensorOps.Squeeze(Iota(1, 3, 1, 4)).Shape);
    }

    [Fact]
    public void Squeeze_NegativeAxis_RemovesThatAxis()
    {
        Assert.Equal([1, 3, 4], TensorOps.Squeeze(Iota(1, 3, 1, 4), [-2]).Shape);
    }

    [Fact]
    public void Squeeze_AxisNotOne_NamesAxisAndSize()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Squeeze(Iota(1, 3), [1]));
        Assert.Contains("Squeeze: argument 'axes' expected axes of size 1", e.Message);
        Assert.Contains("axis 1 of size 3", e.Message);
    }

    [Fact]
    public void Unsqueeze_AxesIndexTheOutput_IncludingNegative()
    {
        Assert.Equal([1, 3, 1, 4, 1], TensorOps.Unsqueeze(Iota(3, 4), 0, 2, -1).Shape);
    }

    [Fact]
    public void Unsqueeze_AxisOutOfRange_Throws()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Unsqueeze(Iota(3, 4), 3));
        Assert.Contains("Unsqueeze: argument 'axes' expected an axis in [-3, 2], got 3", e.Message);
    }

    [Fact]
    public void Unsqueeze_DuplicateAxes_Throws()
    {
        Assert.Throws<ShapeException>(() => TensorOps.Unsqueeze(Iota(3), 0, -3));
    }

    [Fact]
    public void Shape_StartEnd_ClampsAndCountsFromEnd()
    {
        var x = Iota(2, 3, 4);
        Assert.Equal([2L, 3, 4], TensorOps.Shape(x).Data);
        Assert.Equal([3L], TensorOps.Shape(x, 1, -1).Data);
        Assert.Equal([2L, 3, 4], TensorOps.Shape(x, -10, 10).Data);
        Assert.Empty(TensorOps.Shape(x, 2, 1).Data);
    }

    [Fact]
    public void Size_IsElementCountAsLongScalar()
    {
        var s = TensorOps.Size(Iota(2, 3, 4));
        Assert.Equal(0, s.Rank);
        Assert.Equal(24L, s.Data[0]);
    }
}
