using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;

namespace QuantSharp.Engine.Tests.Autograd;

public class NormalizationGradTests
{
    [Fact]
    public void BatchNormTraining_GradientsMatchFiniteDifferences()
    {
        var rng = new Random(1);
        var rm = Tensor.Zeros(3);
        var rv = Tensor.Ones(3);
        GradientChecker.AssertGradients(v => Ops.BatchNorm(v[0], v[1], v[2], rm, rv, training: true),
            [Tensor.RandomNormal(rng, 0f, 1f, 4, 3, 2, 2), Tensor.RandomUniform(rng, 0.5f, 1.5f, 3), Tensor.RandomUniform(rng, -1f, 1f, 3)]);
    }

    [Fact]
    public void BatchNormInference_GradientsMatchFiniteDifferences()
    {
        var rng = new Random(2);
        var rm = Tensor.RandomUniform(rng, -0.5f, 0.5f, 3);
        var rv = Tensor.RandomUniform(rng, 0.5f, 2f, 3);
        GradientChecker.AssertGradients(v => Ops.BatchNorm(v[0], v[1], v[2], rm, rv, training: false),
            [Tensor.RandomNormal(rng, 0f, 1f, 2, 3, 5), Tensor.RandomUniform(rng, 0.5f, 1.5f, 3), Tensor.RandomUniform(rng, -1f, 1f, 3)]);
    }

    [Fact]
    public void BatchNormTraining_UpdatesRunningStatsInPlace()
    {
        var rm = Tensor.Zeros(1);
        var rv = Tensor.Ones(1);
        var x = new Variable(Tensor.FromArray([1f, 2f, 3f, 4f], 4, 1));
        Ops.BatchNorm(x, new Variable(Tensor.Ones(1)), new Variable(Tensor.Zeros(1)), rm, rv, training: true, momentum: 0.9f, eps: 0f);
        Assert.Equal(0.25f, rm.Data[0], 6);
        Assert.Equal(0.9f + 0.1f * 5f / 3f, rv.Data[0], 6);
    }

    [Fact]
    public void LayerNorm_WithAndWithoutBias_GradientsMatchFiniteDifferences()
    {
        var rng = new Random(3);
        GradientChecker.AssertGradients(v => Ops.LayerNorm(v[0], v[1], v[2]),
            [Tensor.RandomNormal(rng, 0f, 1f, 3, 6), Tensor.RandomUniform(rng, 0.5f, 1.5f, 6), Tensor.RandomUniform(rng, -1f, 1f, 6)]);
        GradientChecker.AssertGradients(v => Ops.LayerNorm(v[0], v[1], axis: 1),
            [Tensor.RandomNormal(rng, 0f, 1f, 2, 3, 4), Tensor.RandomUniform(rng, 0.5f, 1.5f, 4)]);
    }

    [Fact]
    public void InstanceNorm_GradientsMatchFiniteDifferences()
    {
        var rng = new Random(4);
        GradientChecker.AssertGradients(v => Ops.InstanceNorm(v[0], v[1], v[2]),
            [Tensor.RandomNormal(rng, 0f, 1f, 2, 2, 6), Tensor.RandomUniform(rng, 0.5f, 1.5f, 2), Tensor.RandomUniform(rng, -1f, 1f, 2)]);
    }
}
