using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Autograd;

public class ConvGradTests
{
    private static Tensor<float> R(int seed, params int[] shape) => Tensor.RandomUniform(new Random(seed), -1f, 1f, shape);

    private static void CheckConv(int[] x, int[] w, ConvParams p, bool bias = true) =>
        GradientChecker.AssertGradients(v => Ops.Conv(v[0], v[1], bias ? v[2] : null, p),
            bias ? [R(1, x), R(2, w), R(3, w[0])] : [R(1, x), R(2, w)]);

    [Fact]
    public void ConvGrad_1D_MatchesFiniteDifferences() =>
        CheckConv([2, 2, 9], [3, 2, 3], new ConvParams([2], [1], [2], [1]));

    [Fact]
    public void ConvGrad_2D_Stride2AsymmetricPads_MatchesFiniteDifferences() =>
        CheckConv([1, 2, 7, 6], [3, 2, 3, 3], new ConvParams([2, 2], [1, 0], [0, 2], [1, 1]));

    [Fact]
    public void ConvGrad_2D_Dilation2_MatchesFiniteDifferences() =>
        CheckConv([1, 2, 7, 7], [2, 2, 3, 2], new ConvParams([1, 1], [2, 1], [2, 1], [2, 2]), bias: false);

    [Fact]
    public void ConvGrad_2D_Groups2_MatchesFiniteDifferences() =>
        CheckConv([2, 4, 5, 5], [4, 2, 3, 3], ConvParams.Uniform(2, pad: 1, groups: 2));

    [Fact]
    public void ConvGrad_2D_Depthwise_MatchesFiniteDifferences() =>
        CheckConv([2, 3, 6, 7], [3, 1, 3, 3], new ConvParams([2, 1], [1, 1], [1, 0], [1, 2], 3));

    [Fact]
    public void ConvGrad_2D_Pointwise_MatchesFiniteDifferences() =>
        CheckConv([2, 3, 4, 3], [2, 3, 1, 1], ConvParams.Uniform(2));

    [Fact]
    public void ConvGrad_3D_MatchesFiniteDifferences() =>
        CheckConv([1, 2, 4, 4, 3], [2, 2, 2, 3, 2], new ConvParams([2, 1, 1], [0, 1, 1], [1, 0, 0], [1, 1, 1]));

    [Fact]
    public void ConvTransposeGrad_2D_Stride2OutputPadding_MatchesFiniteDifferences()
    {
        var p = new ConvParams([2, 2], [1, 0], [0, 1], [1, 1], 2);
        GradientChecker.AssertGradients(v => Ops.ConvTranspose(v[0], v[1], v[2], p, [1, 0]),
            [R(4, 1, 4, 3, 3), R(5, 4, 2, 3, 2), R(6, 4)]);
    }

    [Fact]
    public void ConvTransposeGrad_1D_Dilation2_MatchesFiniteDifferences()
    {
        var p = new ConvParams([1], [1], [0], [2]);
        GradientChecker.AssertGradients(v => Ops.ConvTranspose(v[0], v[1], null, p, [1]),
            [R(7, 2, 2, 5), R(8, 2, 3, 3)]);
    }

    [Fact]
    public void ConvGrad_BiasOnlyRequiringGradient_GetsBiasGradientOnly()
    {
        var x = new Variable(R(9, 1, 2, 4, 4));
        var w = new Variable(R(10, 3, 2, 3, 3));
        var b = new Variable(R(11, 3), requiresGrad: true);
        var y = Ops.Conv(x, w, b, ConvParams.Uniform(2, pad: 1));
        y.Backward();
        Assert.Null(x.Grad);
        Assert.Null(w.Grad);
        Assert.Equal([16f, 16f, 16f], b.Grad!.Data);
    }
}
