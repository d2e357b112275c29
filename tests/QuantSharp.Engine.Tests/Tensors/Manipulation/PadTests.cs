using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Tensors.Manipulation;

public class PadTests
{
    private static readonly float[] SpecData = [1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f];

    [Fact]
    public void Pad_OnnxSpecConstant_PadsBeginOfAxis1()
    {
        var y = TensorOps.Pad(Tensor.FromArray(SpecData, 3, 2), [0, 2, 0, 0], PadMode.Constant, 0f);
        Assert.Equal([3, 4], y.Shape);
        Assert.Equal([0f, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f], y.Data);
    }

    [Fact]
    public void Pad_OnnxSpecReflect_MirrorsWithoutEdge()
    {
        var y = TensorOps.Pad(Tensor.FromArray(SpecData, 3, 2), [0, 2, 0, 0], PadMode.Reflect);
        Assert.Equal([1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f], y.Data);
    }

    [Fact]
    public void Pad_OnnxSpecEdge_RepeatsEdge()
    {
        var y = TensorOps.Pad(Tensor.FromArray(SpecData, 3, 2), [0, 2, 0, 0], PadMode.Edge);
        Assert.Equal([1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f], y.Data);
    }

    [Fact]
    public void Pad_ReflectWiderThanInput_KeepsReflectingLikeNumpy()
    {
        // numpy: np.pad([1, 2, 3], (5, 4), 'reflect')
        var y = TensorOps.Pad(Tensor.FromArray([1, 2, 3], 3), [5, 4], PadMode.Reflect);
        Assert.Equal([2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3], y.Data);
    }

    [Fact]
    public void Pad_Edge2D_MatchesNumpy()
    {
        // numpy: np.pad([[1, 2], [3, 4]], ((1, 2), (3, 1)), 'edge')
        var y = TensorOps.Pad(Tensor.FromArray([1, 2, 3, 4], 2, 2), [1, 3, 2, 1], PadMode.Edge);
        Assert.Equal([5, 6], y.Shape);
        Assert.Equal([1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 3, 3, 3, 3, 4, 4, 3, 3, 3, 3, 4, 4], y.Data);
    }

    [Fact]
    public void Pad_NegativePads_Crop()
    {
        var x = Tensor.FromArray([1f, 2, 3, 4, 5, 6, 7, 8], 2, 4);
        var y = TensorOps.Pad(x, [0, -1, 1, -2], PadMode.Constant, 9f);
        Assert.Equal([3, 1], y.Shape);
        Assert.Equal([2f, 6, 9], y.Data);
    }

    [Fact]
    public void Pad_Opset18Axes_PadsOnlyListedAxes()
    {
        var x = Tensor.FromArray([1f, 2, 3, 4], 2, 2);
        var y = TensorOps.Pad(x, [1, 0], PadMode.Constant, 0f, [-1]);
        Assert.Equal([2, 3], y.Shape);
        Assert.Equal([0f, 1, 2, 0, 3, 4], y.Data);
    }

    [Fact]
    public void Pad_RandomPadsAllModes_MatchReferenceBitExact()
    {
        var rng = new Random(11);
        var x = Tensor.RandomUniform(rng, -1, 1, 3, 4, 5);
        foreach (var mode in new[] { PadMode.Constant, PadMode.Reflect, PadMode.Edge })
            for (int trial = 0; trial < 40; trial++)
            {
                var begin = new int[3];
                var end = new int[3];
                for (int k = 0; k < 3; k++)
                {
                    begin[k] = rng.Next(-1, 7);
                    end[k] = rng.Next(-1, 7);
                }
                var pads = begin.Concat(end).Select(v => (long)v).ToArray();
                var y = TensorOps.Pad(x, pads, mode, 0.5f);
                var r = TensorOpsReference.Pad(x, begin, end, mode, 0.5f);
                Assert.Equal(r.Shape, y.Shape);
                Assert.Equal(r.Data, y.Data);
            }
    }

    [Fact]
    public void Pad_LargeParallelPath_MatchesReference()
    {
        var x = Tensor.RandomUniform(new Random(2), -1, 1, 4, 64, 70);
        var y = TensorOps.Pad(x, [0, 1, 2, 0, 3, 1], PadMode.Reflect);
        Assert.Equal(TensorOpsReference.Pad(x, [0, 1, 2], [0, 3, 1], PadMode.Reflect, 0f).Data, y.Data);
    }

    [Fact]
    public void PadBackward_Edge_AccumulatesRepeatedEdge()
    {
        var g = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 6);
        var gx = TensorOps.PadBackward(g, [3], [2, 1], PadMode.Edge);
        Assert.Equal([1f + 2 + 3, 4, 5 + 6], gx.Data);
    }

    [Fact]
    public void PadBackward_Reflect_AccumulatesMirrors()
    {
        // Output of reflect pad (2, 1) of [a, b, c] is [c, b, a, b, c, b].
        var g = Tensor.FromArray([1f, 10, 100, 1000, 10000, 100000], 6);
        var gx = TensorOps.PadBackward(g, [3], [2, 1], PadMode.Reflect);
        Assert.Equal([100f, 10 + 1000 + 100000, 1 + 10000], gx.Data);
    }

    [Fact]
    public void PadBackward_ConstantWithNegativePad_CropsAndZerosCropped()
    {
        var g = Tensor.FromArray([1f, 2, 3], 3);
        var gx = TensorOps.PadBackward(g, [3], [1, -1]);
        Assert.Equal([2f, 3, 0], gx.Data);
    }

    [Fact]
    public void Pad_PadsWrongLength_NamesPadsExpectedActual()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Pad(new Tensor<float>(2, 3), [1, 1, 1]));
        Assert.Contains("Pad: argument 'pads' expected 4 entries", e.Message);
        Assert.Contains("got 3 entries [1,1,1]", e.Message);
    }

    [Fact]
    public void Pad_CropBelowZero_NamesPads()
    {
        var e = Assert.Throws<ShapeException>(() => TensorOps.Pad(new Tensor<float>(2), [-2, -1]));
        Assert.Contains("Pad: argument 'pads' expected a non-negative padded size on axis 0", e.Message);
    }

    [Fact]
    public void Pad_ReflectEmptyAxis_Throws()
    {
        Assert.Throws<ShapeException>(() => TensorOps.Pad(new Tensor<float>(0), [1, 0], PadMode.Reflect));
    }
}
