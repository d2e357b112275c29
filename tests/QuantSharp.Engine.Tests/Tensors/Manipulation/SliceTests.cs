using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class SliceTests
{
    private static Tensor<float> Iota(params int[] shape)
    {
        var t = new Tensor<float>(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = i;
        return t;
    }

    [Fact]
    public void Slice_OnnxSpecExample1_StepsTwo()
    {
        var x = Tensor.FromArray([1f, 2, 3, 4, 5, 6, 7, 8], 2, 4);
        var y = TensorOps.Slice(x, [1, 0], [2, 3], [0, 1], [1, 2]);
        Assert.Equal([1, 2], y.Shape);
        Assert.Equal([5f, 7], y.Data);
    }

    [Fact]
    public void Slice_OnnxSpecExample2_NegativeEndAndHugeEndClamp()
    {
        var x = Tensor.FromArray([1f, 2, 3, 4, 5, 6, 7, 8], 2, 4);
        var y = TensorOps.Slice(x, [0, 1], [-1, 1000]);
        Assert.Equal([1, 3], y.Shape);
        Assert.Equal([2f, 3, 4], y.Data);
    }

    [Fact]
    public void Slice_NegativeSteps_MatchNumpy()
    {
        // numpy: x[::-1, 3:0:-2] with x = arange(12).reshape(3, 4)
        var y = TensorOps.Slice(Iota(3, 4), [-1, 3], [long.MinValue, 0], [0, 1], [-1, -2]);
        Assert.Equal([3, 2], y.Shape);
        Assert.Equal([11f, 9, 7, 5, 3, 1], y.Data);
    }

    [Fact]
    public void Slice_NegativeStepStartBeyondEnd_ClampsToLastIndex()
    {
        // numpy: arange(10)[100:2:-2] = [9, 7, 5, 3]
        Assert.Equal([9f, 7, 5, 3], TensorOps.Slice(Iota(10), [100], [2], default, [-2]).Data);
        // numpy: arange(10)[8:1:-3] = [8, 5, 2]
        Assert.Equal([8f, 5, 2], TensorOps.Slice(Iota(10), [8], [1], default, [-3]).Data);
    }

    [Fact]
    public void Slice_NegativeStepEndBelowStart_ClampsToMinusOne()
    {
        // numpy: x[:, 10:-100:-1] reverses every row
        var y = TensorOps.Slice(Iota(3, 4), [10], [-100], [1], [-1]);
        Assert.Equal([3f, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8], y.Data);
    }

    [Fact]
    public void Slice_StartOutOfBounds_GivesEmptyAxis()
    {
        var y = TensorOps.Slice(Iota(20, 10, 5), [1000], [1000], [1]);
        Assert.Equal([20, 0, 5], y.Shape);
    }

    [Fact]
    public void Slice_EndOutOfBoundsAndNegativeAxis_ClampsToDim()
    {
        var y = TensorOps.Slice(Iota(2, 10), [1], [1000], [-1]);
        Assert.Equal([2, 9], y.Shape);
        Assert.Equal(1f, y.Data[0]);
        Assert.Equal(19f, y.Data[^1]);
    }

    [Fact]
    public void Slice_ManyRandomPlans_MatchReferenceBitExact()
    {
        var rng = new Random(7);
        var x = Iota(5, 7, 3, 9);
        for (int trial = 0; trial < 300; trial++)
        {
            var axes = Enumerable.Range(0, 4).OrderBy(_ => rng.Next()).Take(rng.Next(1, 5)).Select(a => (long)a).ToArray();
            var starts = axes.Select(_ => (long)rng.Next(-12, 12)).ToArray();
            var ends = axes.Select(_ => (long)rng.Next(-12, 12)).ToArray();
            var steps = axes.Select(_ => (long)(rng.Next(1, 4) * (rng.Next(2) == 0 ? 1 : -1))).ToArray();
            var plan = TensorOps.ResolveSlice(x.Dims, starts, ends, axes, steps);
            var y = TensorOps.Slice(x, starts, ends, axes, steps);
            var r = TensorOpsReference.Slice(x, plan);
            Assert.Equal(r.Shape, y.Shape);
            Assert.Equal(r.Data, y.Data);
        }
    }

    [Fact]
    public void SliceBackward_ScattersIntoZerosAtSlicedPositions()
    {
        var g = Tensor.FromArray([1f, 2, 3], 3);
        var gx = TensorOps.SliceBackward(g, [7], [5], [long.MinValue], default, [-2]);
        Assert.Equal([0f, 3, 0, 2, 0, 1, 0], gx.Data);
    }

    [Fact]
    public void Slice_StepZero_NamesSteps()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Slice(Iota(4), [0], [4], default, [0]));
        Assert.Contains("Slice: argument 'steps' expected non-zero steps, got [0]", e.Message);
    }

    [Fact]
    public void Slice_AxisOutOfRange_NamesAxes()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Slice(Iota(4, 2), [0], [1], [2]));
        Assert.Contains("Slice: argument 'axes' expected an axis in [-2, 1], got 2", e.Message);
    }

    [Fact]
    public void Slice_EndsLengthMismatch_NamesEnds()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Slice(Iota(4, 2), [0, 0], [1]));
        Assert.Contains("Slice: argument 'ends' expected 2 entries", e.Message);
    }

    [Fact]
    public void Slice_RepeatedAxis_Throws()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Slice(Iota(4, 2), [0, 0], [1, 1], [1, -1]));
        Assert.Contains("distinct axes", e.Message);
    }
}
