using QuantSharp.Engine.Autograd;

namespace QuantSharp.Engine.Tests.Autograd;

public class ReduceGradTests
{
    private static Tensor<float> U(int seed, params int[] shape) => Tensor.RandomUniform(new Random(seed), -2f, 2f, shape);

    public static TheoryData<int[]?, bool> AxesCases => new()
    {
        { null, true }, { null, false }, { [1], true }, { [0, 2], false }, { [-1], false }, { [0, 1, 2], true },
    };

    [Theory]
    [MemberData(nameof(AxesCases))]
    public void SumAndMean_GradientsMatchFiniteDifferences(int[]? axes, bool keepDims)
    {
        var x = U(1, 2, 3, 4);
        GradientChecker.AssertGradients(v => Ops.Sum(v[0], axes, keepDims), [x]);
        GradientChecker.AssertGradients(v => Ops.Mean(v[0], axes, keepDims), [x]);
    }

    [Theory]
    [MemberData(nameof(AxesCases))]
    public void ReduceMaxMin_GradientsMatchFiniteDifferences_WithDistinctValues(int[]? axes, bool keepDims)
    {
        // A permutation scaled by 0.1: every gap is ≥ 0.1, far above eps, so max/min are unique and stable.
        var x = new Tensor<float>(2, 3, 4);
        var perm = Enumerable.Range(0, 24).OrderBy(i => (i * 7919) % 24).ToArray();
        for (int i = 0; i < 24; i++) x.Data[i] = perm[i] * 0.1f - 1f;
        GradientChecker.AssertGradients(v => Ops.ReduceMax(v[0], axes, keepDims), [x], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.ReduceMin(v[0], axes, keepDims), [x], eps: 1e-3);
    }

    [Fact]
    public void MseLoss_GradientMatchesFiniteDifferences_AndValue()
    {
        var p = U(2, 3, 4); var t = U(3, 3, 4);
        GradientChecker.AssertGradients(v => Ops.MseLoss(v[0], v[1]), [p, t]);
        var loss = Ops.MseLoss(new Variable(Tensor.FromArray([1f, 2f], 2)), new Variable(Tensor.FromArray([0f, 4f], 2)));
        Assert.Equal(2.5f, loss.Data.Data[0]);
        Assert.Equal(0, loss.Data.Rank);
    }

    [Fact]
    public void Sum_BadAxis_ThrowsNamingReduceSum()
    {
        var ex = Assert.Throws<ShapeException>(() => Ops.Sum(new Variable(new Tensor<float>(2, 3)), [3]));
        Assert.Contains("ReduceSum: argument 'axes'", ex.Message);
    }
}
