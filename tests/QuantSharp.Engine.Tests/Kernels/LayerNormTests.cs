using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class LayerNormTests
{
    [Fact]
    public void LayerNorm_HandComputed_NormalizesLastAxis()
    {
        var x = Tensor.FromArray([1f, 2f, 3f, 4f, 10f, 10f, 10f, 10f], 2, 4);
        var r = LayerNorm.Forward(x, Tensor.FromArray([1f, 1f, 2f, 2f], 4), Tensor.FromArray([0f, 0f, 0f, 1f], 4), epsilon: 0.25f);
        // row 0: mean 2.5, var 1.25 (+0.25 = 1.5); row 1: mean 10, var 0 (+0.25) → inv 2, y = bias.
        float inv = 1f / MathF.Sqrt(1.5f);
        Assert.Equal([2, 1], r.Mean.Shape);
        Assert.Equal([2.5f, 10f], r.Mean.Data);
        Assert.Equal(inv, r.InvStdDev.Data[0], 6);
        Assert.Equal(2f, r.InvStdDev.Data[1], 6);
        Assert.Equal(-1.5f * inv, r.Y.Data[0], 5);
        Assert.Equal(2 * 1.5f * inv + 1f, r.Y.Data[3], 5);
        Assert.Equal([0f, 0f, 0f, 1f], r.Y.Data[4..]);
    }

    public static IEnumerable<object[]> Cases() =>
    [
        [new[] { 3, 7 }, -1, new[] { 7 }, true],
        [new[] { 2, 3, 40 }, 1, new[] { 3, 40 }, true],
        [new[] { 2, 3, 40 }, 1, new[] { 40 }, false],
        [new[] { 4, 5, 6 }, 2, new[] { 6 }, true],
        [new[] { 2, 2, 3, 33 }, -2, new[] { 3, 33 }, false],
        [new[] { 3, 17 }, 0, new[] { 17 }, true],
        [new[] { 5, 256 }, -1, new[] { 256 }, true],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void FastLayerNorm_MatchesReference_ForwardAndBackward(int[] shape, int axis, int[] scaleShape, bool withBias)
    {
        var rng = new Random(shape.Sum() + axis);
        var x = Tensor.RandomNormal(rng, 0.5f, 2f, shape);
        var scale = Tensor.RandomUniform(rng, 0.5f, 1.5f, scaleShape);
        var bias = withBias ? Tensor.RandomUniform(rng, -1f, 1f, scaleShape) : null;
        var a = LayerNormReference.Forward(x, scale, bias, axis, 1e-5f);
        var b = LayerNorm.Forward(x, scale, bias, axis, 1e-5f);
        NormAsserts.Close(a.Y, b.Y, 1e-4f, 1e-4f, "y");
        NormAsserts.Close(a.Mean, b.Mean, what: "mean");
        NormAsserts.Close(a.InvStdDev, b.InvStdDev, what: "invstd");

        var gy = Tensor.RandomUniform(rng, -1f, 1f, shape);
        var (gx1, gs1, gb1) = LayerNormReference.Backward(x, gy, scale, a.Mean, a.InvStdDev, axis);
        var (gx2, gs2, gb2) = LayerNorm.Backward(x, gy, scale, a.Mean, a.InvStdDev, axis);
        NormAsserts.Close(gx1, gx2, 1e-3f, 1e-4f, "gx");
        NormAsserts.Close(gs1, gs2, 1e-4f, 1e-4f, "gscale");
        NormAsserts.Close(gb1, gb2, 1e-4f, 1e-4f, "gbias");
    }

    [Fact]
    public void FastLayerNorm_RowLengths1To256_MatchReference()
    {
        var rng = new Random(9);
        for (int len = 1; len <= 256; len++)
        {
            var x = Tensor.RandomUniform(rng, -2f, 2f, 2, len);
            var scale = Tensor.RandomUniform(rng, 0.5f, 1.5f, len);
            NormAsserts.Close(LayerNormReference.Forward(x, scale, null).Y, LayerNorm.Forward(x, scale, null).Y, 1e-4f, 1e-4f, $"len={len}");
        }
    }

    [Fact]
    public void LayerNorm_AxisOutOfRange_NamesAxis()
    {
        var e = Assert.Throws<ShapeException>(() => LayerNorm.Forward(new Tensor<float>(2, 3), Tensor.Ones(3), null, axis: 2));
        Assert.Contains("LayerNormalization", e.Message);
        Assert.Contains("'axis'", e.Message);
        Assert.Contains("got 2", e.Message);
    }

    [Fact]
    public void LayerNorm_ScaleNotMatchingNormalizedShape_NamesScale()
    {
        var e = Assert.Throws<ShapeException>(() => LayerNorm.Forward(new Tensor<float>(2, 3), Tensor.Ones(4), null));
        Assert.Contains("'scale'", e.Message);
        Assert.Contains("[3]", e.Message);
        Assert.Contains("got [4]", e.Message);
    }

    [Fact]
    public void LayerNorm_BiasShapeDiffersFromScale_NamesB()
    {
        var e = Assert.Throws<ShapeException>(() => LayerNorm.Forward(new Tensor<float>(2, 3), Tensor.Ones(3), Tensor.Ones(2)));
        Assert.Contains("'B'", e.Message);
    }
}
