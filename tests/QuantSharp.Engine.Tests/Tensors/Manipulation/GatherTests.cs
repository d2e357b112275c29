using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class GatherTests
{
    [Fact]
    public void Gather_OnnxSpecAxis0_ShapeIsIndicesPlusTrailing()
    {
        var data = Tensor.FromArray([1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f], 3, 2);
        var y = TensorOps.Gather(data, Tensor.FromArray([0L, 1, 1, 2], 2, 2), 0);
        Assert.Equal([2, 2, 2], y.Shape);
        Assert.Equal([1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f], y.Data);
    }

    [Fact]
    public void Gather_OnnxSpecAxis1_Int32Indices()
    {
        var data = Tensor.FromArray([1.0f, 1.2f, 1.9f, 2.3f, 3.4f, 3.9f, 4.5f, 5.7f, 5.9f], 3, 3);
        var y = TensorOps.Gather(data, Tensor.FromArray([0, 2], 1, 2), 1);
        Assert.Equal([3, 1, 2], y.Shape);
        Assert.Equal([1.0f, 1.9f, 2.3f, 3.9f, 4.5f, 5.9f], y.Data);
    }

    [Fact]
    public void Gather_NegativeIndices_CountFromEnd()
    {
        var data = Tensor.FromArray(Enumerable.Range(0, 10).Select(i => (float)i).ToArray(), 10);
        Assert.Equal([0f, 1, 0], TensorOps.Gather(data, Tensor.FromArray([0L, -9, -10], 3)).Data);
    }

    [Fact]
    public void Gather_ScalarIndex_DropsAxis()
    {
        var data = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        var y = TensorOps.Gather(data, Tensor.Scalar(-1L), 1);
        Assert.Equal([2], y.Shape);
        Assert.Equal([3, 6], y.Data);
    }

    [Fact]
    public void Gather_RandomAxesAndIndices_MatchReference()
    {
        var rng = new Random(5);
        var x = Tensor.RandomUniform(rng, -1, 1, 4, 5, 6);
        for (int axis = 0; axis < 3; axis++)
        {
            int d = x.Dims[axis];
            var idx = Enumerable.Range(0, 6).Select(_ => (long)rng.Next(-d, d)).ToArray();
            var y = TensorOps.Gather(x, Tensor.FromArray(idx, 2, 3), axis);
            var r = TensorOpsReference.Gather(x, idx, [2, 3], axis);
            Assert.Equal(r.Shape, y.Shape);
            Assert.Equal(r.Data, y.Data);
        }
    }

    [Fact]
    public void GatherBackward_RepeatedIndices_Accumulate()
    {
        var g = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 3, 2);
        var gx = TensorOps.GatherBackward(g, [3, 2], Tensor.FromArray([2, -1, 0], 3), 0);
        Assert.Equal([5f, 6, 0, 0, 1 + 3, 2 + 4], gx.Data);
    }

    [Fact]
    public void Gather_IndexOutOfRange_NamesIndicesRangeAndValue()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Gather(new Tensor<float>(3, 2), Tensor.FromArray([0L, 3], 2)));
        Assert.Contains("Gather: argument 'indices' expected values in [-3, 2]", e.Message);
        Assert.Contains("got 3", e.Message);
    }

    [Fact]
    public void Gather_FloatIndices_Rejected()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Gather(new Tensor<float>(3), Tensor.FromArray([0f], 1)));
        Assert.Contains("expected element type Int32 or Int64, got Float32", e.Message);
    }

    [Fact]
    public void GatherElements_OnnxSpecExamples()
    {
        var data = Tensor.FromArray([1, 2, 3, 4], 2, 2);
        var y = TensorOps.GatherElements(data, Tensor.FromArray([0L, 0, 1, 0], 2, 2), 1);
        Assert.Equal([1, 1, 4, 3], y.Data);
        var data2 = Tensor.FromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 3);
        var y2 = TensorOps.GatherElements(data2, Tensor.FromArray([1, 2, 0, 2, 0, 0], 2, 3), 0);
        Assert.Equal([4, 8, 3, 7, 2, 3], y2.Data);
        var y3 = TensorOps.GatherElements(data2, Tensor.FromArray([-1, -2, 0, -2, 0, 0], 2, 3), 0);
        Assert.Equal([7, 5, 3, 4, 2, 3], y3.Data);
    }
}
