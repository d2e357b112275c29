using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;

namespace QuantSharp.Engine.Tests.Autograd;

public class ShapeGradTests
{
    private static Tensor<float> R(int seed, params int[] shape) => Tensor.RandomUniform(new Random(seed), -1f, 1f, shape);

    [Fact]
    public void Reshape_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Reshape(v[0], [0, -1]), [R(1, 2, 3, 4)]);

    [Fact]
    public void Flatten_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Flatten(v[0], 2), [R(2, 2, 3, 4)]);

    [Fact]
    public void SqueezeUnsqueeze_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Unsqueeze(Ops.Squeeze(v[0], [1]), 0, -1), [R(3, 3, 1, 4)]);

    [Fact]
    public void Transpose_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Transpose(v[0], [2, 0, 3, 1]), [R(4, 2, 3, 4, 5)]);

    [Fact]
    public void Slice_NegativeStep_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Slice(v[0], [-1, 1], [long.MinValue, 5], [0, 2], [-2, 2]), [R(5, 5, 3, 6)]);

    [Fact]
    public void Concat_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Concat([v[0], v[1], v[0]], 1), [R(6, 2, 3, 2), R(7, 2, 1, 2)]);

    [Fact]
    public void Split_Gradient_OnlyUsedPartsContribute()
    {
        // y = parts[2] ++ parts[0] (parts[1] unused): its gradient must be zero.
        GradientChecker.AssertGradients(v =>
        {
            var p = Ops.Split(v[0], -1, [2, 1, 3]);
            return Ops.Concat([p[2], p[0]], -1);
        }, [R(8, 3, 6)]);
    }

    [Fact]
    public void Split_EqualParts_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v =>
        {
            var p = Ops.Split(v[0], 0, 3);
            return Ops.Concat([p[1], p[1], p[2]], 0);
        }, [R(9, 7, 2)]);

    [Theory]
    [InlineData(PadMode.Constant)]
    [InlineData(PadMode.Reflect)]
    [InlineData(PadMode.Edge)]
    public void Pad_Gradient_MatchesFiniteDifferences(PadMode mode) =>
        GradientChecker.AssertGradients(v => Ops.Pad(v[0], [1, 3, -1, 2, 4, 1], mode, 0.5f), [R(10, 3, 3, 4)]);

    [Fact]
    public void Pad_Opset18Axes_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Pad(v[0], [2, 1], PadMode.Reflect, 0f, [-1]), [R(11, 2, 4)]);

    [Fact]
    public void Gather_RepeatedNegativeIndices_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Gather(v[0], Tensor.FromArray([-1L, 0, 2, -1], 2, 2), 1), [R(12, 2, 3, 2)]);

    [Fact]
    public void Expand_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Expand(v[0], [2, 1, 4, 3]), [R(13, 3, 1, 1)]);

    [Fact]
    public void Tile_Gradient_MatchesFiniteDifferences() =>
        GradientChecker.AssertGradients(v => Ops.Tile(v[0], [2, 1, 3]), [R(14, 2, 3, 2)]);

    [Fact]
    public void Transpose_Backward_UsesInversePermutation()
    {
        var x = new Variable(R(15, 2, 3, 4), requiresGrad: true);
        var y = Ops.Transpose(x, [1, 2, 0]);
        var seed = R(16, 3, 4, 2);
        y.Backward(seed);
        Assert.Equal(TensorOps.Transpose(seed, [2, 0, 1]).Data, x.Grad!.Data);
    }
}
