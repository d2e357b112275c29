using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;
using AG = QuantSharp.Engine.Autograd.Autograd;

namespace QuantSharp.Engine.Tests.Autograd;

public class PoolGradTests
{
    /// <summary>Distinct values 0.1 apart (shuffled), so a ±eps probe never changes which element is the maximum.</summary>
    private static Tensor<float> Distinct(int seed, params int[] shape)
    {
        int n = Shapes.Size(shape);
        var v = Enumerable.Range(0, n).Select(i => (i - n / 2) * 0.1f).ToArray();
        new Random(seed).Shuffle(v);
        return Tensor.FromArray(v, shape);
    }

    [Fact]
    public void MaxPool2d_PaddedCeilMode_GradientMatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.MaxPool(v[0], new PoolParams([3, 3], [2, 2], [1, 0, 1, 1], ceilMode: true)), [Distinct(1, 1, 2, 6, 7)]);

    [Fact]
    public void MaxPool1dDilated_And3d_GradientsMatchFiniteDifferences()
    {
        GradientChecker.AssertGradients(v => Ops.MaxPool(v[0], new PoolParams([2], [1], [1, 0], [2])), [Distinct(2, 2, 1, 9)]);
        GradientChecker.AssertGradients(v => Ops.MaxPool(v[0], new PoolParams([2, 2, 2], [1, 2, 2])), [Distinct(3, 1, 1, 3, 4, 4)]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AveragePool_CeilModePads_GradientMatchesFiniteDifferences(bool countIncludePad) =>
        GradientChecker.AssertGradients(v => Ops.AveragePool(v[0], new PoolParams([3, 2], [2, 2], [1, 1, 1, 1], ceilMode: true), countIncludePad),
            [Tensor.RandomUniform(new Random(4), -1f, 1f, 1, 2, 6, 5)]);

    [Fact]
    public void GlobalPools_GradientsMatchFiniteDifferences()
    {
        GradientChecker.AssertGradients(v => Ops.GlobalAveragePool(v[0]), [Tensor.RandomUniform(new Random(5), -1f, 1f, 2, 3, 4, 5)]);
        GradientChecker.AssertGradients(v => Ops.GlobalMaxPool(v[0]), [Distinct(6, 2, 3, 3, 3)]);
    }

    [Fact]
    public void MaxPool_WithoutGrad_UsesFastPathAndRecordsNothing()
    {
        var x = new Variable(Distinct(7, 1, 1, 4, 4), requiresGrad: true);
        using (AG.NoGrad())
        {
            var y = Ops.MaxPool(x, new PoolParams([2, 2], [2, 2]));
            Assert.True(y.IsLeaf);
            Assert.False(y.RequiresGrad);
        }
    }
}
