using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;

namespace QuantSharp.Engine.Tests.Autograd;

public class LinearGradTests
{
    private static Tensor<float> R(int seed, params int[] shape) => Tensor.RandomUniform(new Random(seed), -1f, 1f, shape);

    [Fact]
    public void MatMul_2D_GradientsMatchFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.MatMul(v[0], v[1]), [R(1, 3, 4), R(2, 4, 5)]);

    [Fact]
    public void MatMul_BatchedBroadcast_GradientsMatchFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.MatMul(v[0], v[1]), [R(3, 2, 1, 3, 4), R(4, 3, 4, 2)]);

    [Fact]
    public void MatMul_SharedRank2B_GradientsMatchFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.MatMul(v[0], v[1]), [R(5, 2, 3, 4), R(6, 4, 3)]);

    [Fact]
    public void MatMul_OneDimensionalOperands_GradientsMatchFiniteDifferences()
    {
        GradientChecker.AssertGradients(v => Ops.MatMul(v[0], v[1]), [R(7, 4), R(8, 2, 4, 3)]);
        GradientChecker.AssertGradients(v => Ops.MatMul(v[0], v[1]), [R(9, 2, 3, 4), R(10, 4)]);
        GradientChecker.AssertGradients(v => Ops.MatMul(v[0], v[1]), [R(11, 5), R(12, 5)]);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Gemm_TransposesWithBroadcastC_GradientsMatchFiniteDifferences(bool transA, bool transB)
    {
        int m = 3, n = 4, k = 5;
        var a = R(13, transA ? [k, m] : [m, k]);
        var b = R(14, transB ? [n, k] : [k, n]);
        foreach (var cShape in new[] { Array.Empty<int>(), [n], [m, 1], [m, n] })
            GradientChecker.AssertGradients(v => Ops.Gemm(v[0], v[1], v[2], transA, transB, alpha: 0.7f, beta: -1.5f), [a, b, R(15, cShape)]);
        GradientChecker.AssertGradients(v => Ops.Gemm(v[0], v[1], null, transA, transB, alpha: 2f), [a, b]);
    }

    [Fact]
    public void Linear_WithAndWithoutBias_GradientsMatchFiniteDifferences()
    {
        GradientChecker.AssertGradients(v => Ops.Linear(v[0], v[1], v[2]), [R(16, 3, 5), R(17, 4, 5), R(18, 4)]);
        GradientChecker.AssertGradients(v => Ops.Linear(v[0], v[1]), [R(19, 3, 5), R(20, 4, 5)]);
    }

    [Fact]
    public void Linear_3DInput_GradientsMatchFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Linear(v[0], v[1], v[2]), [R(21, 2, 3, 5), R(22, 4, 5), R(23, 4)]);

    [Fact]
    public void Linear_WeightOnlyRequiresGrad_GivesWeightAndBiasGradients()
    {
        var x = new Variable(R(24, 2, 3));
        var w = new Variable(R(25, 4, 3), requiresGrad: true);
        var bias = new Variable(R(26, 4), requiresGrad: true);
        Ops.Linear(x, w, bias).Backward();
        Assert.Null(x.Grad);
        Assert.Equal([4, 3], w.Grad!.Shape);
        // d/db of Σ y with seed 1 is the number of rows.
        Assert.All(bias.Grad!.Data, g => Assert.Equal(2f, g, 5));
    }
}
