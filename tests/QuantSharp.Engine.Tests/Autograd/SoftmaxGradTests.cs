using QuantSharp.Engine.Autograd;

namespace QuantSharp.Engine.Tests.Autograd;

public class SoftmaxGradTests
{
    [Theory]
    [InlineData(-1)] [InlineData(0)] [InlineData(1)]
    public void SoftmaxAndLogSoftmax_GradientsMatchFiniteDifferences_AlongAnyAxis(int axis)
    {
        var x = Tensor.RandomUniform(new Random(1), -2f, 2f, 3, 4, 2);
        GradientChecker.AssertGradients(v => Ops.Softmax(v[0], axis), [x], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.LogSoftmax(v[0], axis), [x], eps: 1e-3);
    }

    [Fact]
    public void CrossEntropy_GradientMatchesFiniteDifferences_AndEqualsMeanNegativeLogSoftmax()
    {
        var logits = Tensor.RandomUniform(new Random(2), -3f, 3f, 4, 5);
        int[] labels = [0, 4, 2, 2];
        GradientChecker.AssertGradients(v => Ops.CrossEntropy(v[0], labels), [logits], eps: 1e-3);
        var ls = QuantSharp.Engine.Kernels.Softmax.LogForward(logits, 1);
        double want = 0;
        for (int i = 0; i < 4; i++) want -= ls[i, labels[i]];
        Assert.Equal(want / 4, Ops.CrossEntropy(new Variable(logits), labels).Data.Data[0], 5);
    }

    [Fact]
    public void CrossEntropy_GradientIsSoftmaxMinusOneHotOverN()
    {
        var x = new Variable(Tensor.FromArray([0f, 0f, 0f, 0f], 2, 2), requiresGrad: true);
        Ops.CrossEntropy(x, [1, 0]).Backward();
        Assert.Equal(new[] { 0.25f, -0.25f, -0.25f, 0.25f }, x.Grad!.Data);
    }

    [Fact]
    public void CrossEntropy_BadLabels_ThrowNamingArgument()
    {
        var x = new Variable(new Tensor<float>(2, 3));
        Assert.Contains("CrossEntropy: argument 'labels' expected 2 labels", Assert.Throws<ShapeException>(() => Ops.CrossEntropy(x, [1])).Message);
        Assert.Contains("CrossEntropy: argument 'labels' expected class indices in [0, 2], got 3 at position 1",
            Assert.Throws<ShapeException>(() => Ops.CrossEntropy(x, [0, 3])).Message);
        Assert.Contains("CrossEntropy: argument 'logits' expected rank 2", Assert.Throws<ShapeException>(() => Ops.CrossEntropy(new Variable(new Tensor<float>(6)), [0])).Message);
    }
}
