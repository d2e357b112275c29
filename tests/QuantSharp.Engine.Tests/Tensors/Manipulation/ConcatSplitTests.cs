using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class ConcatSplitTests
{
    [Fact]
    public void Concat_Axis0_AppendsRows()
    {
        var a = Tensor.FromArray([1f, 2, 3, 4], 2, 2);
        var b = Tensor.FromArray([5f, 6], 1, 2);
        var y = TensorOps.Concat([a, b], 0);
        Assert.Equal([3, 2], y.Shape);
        Assert.Equal([1f, 2, 3, 4, 5, 6], y.Data);
    }

    [Fact]
    public void Concat_NegativeAxis_InterleavesRuns()
    {
        var a = Tensor.FromArray([1, 2, 3, 4], 2, 2);
        var b = Tensor.FromArray([5, 6, 7, 8, 9, 10], 2, 3);
        var e = new Tensor<int>(2, 0);
        var y = TensorOps.Concat([a, e, b], -1);
        Assert.Equal([2, 5], y.Shape);
        Assert.Equal([1, 2, 5, 6, 7, 3, 4, 8, 9, 10], y.Data);
    }

    [Fact]
    public void Concat_ShapeMismatch_NamesInputExpectedActual()
    {
        var e = Assert.Throws<ShapeException>(() =>
            TensorOps.Concat([new Tensor<float>(2, 3), new Tensor<float>(3, 4)], 0));
        Assert.Contains("Concat: argument 'inputs[1]' expected shape [*,3]", e.Message);
        Assert.Contains("got [3,4]", e.Message);
    }

    [Fact]
    public void Concat_AxisOutOfRange_NamesAxis()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Concat([new Tensor<float>(2, 3)], 2));
        Assert.Contains("Concat: argument 'axis' expected an axis in [-2, 1], got 2", e.Message);
    }

    [Fact]
    public void Split_OnnxSpecSizes_GivesUnequalParts()
    {
        var x = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 6);
        var parts = TensorOps.Split(x, 0, [2, 4]);
        Assert.Equal([1f, 2], parts[0].Data);
        Assert.Equal([3f, 4, 5, 6], parts[1].Data);
    }

    [Fact]
    public void Split_OnnxSpecEqualParts_Axis1()
    {
        var x = Tensor.FromArray([1f, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 2, 6);
        var parts = TensorOps.Split(x, 1, 3);
        Assert.Equal([1f, 2, 7, 8], parts[0].Data);
        Assert.Equal([3f, 4, 9, 10], parts[1].Data);
        Assert.Equal([5f, 6, 11, 12], parts[2].Data);
        Assert.All(parts, p => Assert.Equal([2, 2], p.Shape));
    }

    [Fact]
    public void Split_Opset18UnevenNumOutputs_LastPartSmaller()
    {
        var parts = TensorOps.Split(Tensor.FromArray([1f, 2, 3, 4, 5, 6, 7], 7), 0, 4);
        Assert.Equal([[1f, 2], [3f, 4], [5f, 6], [7f]], parts.Select(p => p.Data).ToArray());
    }

    [Fact]
    public void Split_ThenConcat_RoundTrips()
    {
        var x = Tensor.RandomUniform(new Random(3), -1, 1, 3, 11, 5);
        var parts = TensorOps.Split(x, 1, [4, 0, 7]);
        Assert.Equal(x.Data, TensorOps.Concat(parts, 1).Data);
    }

    [Fact]
    public void Split_SizesNotSummingToDim_NamesSplit()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Split(new Tensor<float>(6), 0, [2, 3]));
        Assert.Contains("Split: argument 'split' expected sizes summing to 6", e.Message);
        Assert.Contains("[2,3] (sum 5)", e.Message);
    }
}
