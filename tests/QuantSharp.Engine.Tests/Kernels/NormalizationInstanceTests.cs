using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class NormalizationInstanceTests
{
    [Theory]
    [InlineData(new[] { 2, 3, 5 })]
    [InlineData(new[] { 1, 4, 7, 9 })]
    [InlineData(new[] { 3, 2, 2, 3, 17 })]
    public void FastInstanceNorm_MatchesReference_ForwardAndBackward(int[] shape)
    {
        var rng = new Random(shape.Sum());
        int c = shape[1];
        var x = Tensor.RandomNormal(rng, 1f, 2f, shape);
        var scale = Tensor.RandomUniform(rng, 0.5f, 1.5f, c);
        var bias = Tensor.RandomUniform(rng, -1f, 1f, c);
        var a = InstanceNormReference.Forward(x, scale, bias);
        var b = InstanceNorm.Forward(x, scale, bias);
        NormAsserts.Close(a.Y, b.Y, 1e-4f, 1e-4f, "y");
        NormAsserts.Close(a.Mean, b.Mean, what: "mean");
        NormAsserts.Close(a.InvStd, b.InvStd, what: "invstd");
        var gy = Tensor.RandomUniform(rng, -1f, 1f, shape);
        var (gx1, gs1, gb1) = InstanceNormReference.Backward(x, gy, scale, a.Mean, a.InvStd);
        var (gx2, gs2, gb2) = InstanceNorm.Backward(x, gy, scale, a.Mean, a.InvStd);
        NormAsserts.Close(gx1, gx2, 1e-3f, 1e-4f, "gx");
        NormAsserts.Close(gs1, gs2, 1e-4f, 1e-4f, "gscale");
        NormAsserts.Close(gb1, gb2, 1e-4f, 1e-4f, "gbias");
    }

    [Fact]
    public void InstanceNorm_HandComputed_NormalizesEachPlane()
    {
        var x = Tensor.FromArray([1f, 3f, 10f, 20f], 1, 2, 2);
        var r = InstanceNorm.Forward(x, Tensor.FromArray([1f, 2f], 2), Tensor.FromArray([0f, 5f], 2), epsilon: 0f);
        Assert.Equal([-1f, 1f, 3f, 7f], r.Y.Data);
    }

    [Fact]
    public void InstanceNorm_WrongScaleLength_NamesScale()
    {
        var e = Assert.Throws<ShapeException>(() => InstanceNorm.Forward(new Tensor<float>(1, 2, 3), Tensor.Ones(3), Tensor.Zeros(2)));
        Assert.Contains("InstanceNormalization", e.Message);
        Assert.Contains("'scale'", e.Message);
        Assert.Contains("[2]", e.Message);
    }
}
