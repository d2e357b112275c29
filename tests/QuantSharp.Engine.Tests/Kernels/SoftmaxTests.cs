using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public class SoftmaxTests
{
    private static void AssertClose(Tensor<float> want, Tensor<float> got, double tol)
    {
        Assert.Equal(want.Shape, got.Shape);
        for (int i = 0; i < want.Length; i++)
            if (!(Math.Abs(want.Data[i] - got.Data[i]) <= tol * Math.Max(1, Math.Abs(want.Data[i])))) Assert.Fail($"i {i}: {got.Data[i]:R} vs {want.Data[i]:R}");
    }

    public static TheoryData<int[], int> Shapes => new()
    {
        { [3, 1], -1 }, { [4, 17], -1 }, { [2, 256], 1 }, { [5, 259], -1 }, { [3, 7, 5], 1 }, { [3, 7, 40], 0 },
        { [2, 3, 4, 5], 2 }, { [130, 1024], -1 }, { [9], 0 },
    };

    // Tolerance: 1e-6 relative (Vector512.Exp vs double reference).
    [Theory]
    [MemberData(nameof(Shapes))]
    public void SoftmaxAndLogSoftmax_MatchDoubleReference(int[] shape, int axis)
    {
        var x = Tensor.RandomUniform(new Random(3), -10f, 10f, shape);
        AssertClose(SoftmaxReference.Forward(x, axis), Softmax.Forward(x, axis), 1e-6);
        AssertClose(SoftmaxReference.Forward(x, axis, log: true), Softmax.LogForward(x, axis), 1e-6);
    }

    [Fact]
    public unsafe void Row_EveryWidthAndLength_MatchesReference()
    {
        var rng = new Random(1);
        foreach (int w in ElementwiseTestSupport.Widths())
            for (int n = 1; n <= 256; n++)
            {
                var x = Tensor.RandomUniform(rng, -5f, 5f, n);
                var y = new float[n];
                var want = SoftmaxReference.Forward(x);
                fixed (float* px = x.Data, py = y) Softmax.Row(px, py, n, false, w);
                for (int i = 0; i < n; i++) if (!(Math.Abs(y[i] - want.Data[i]) <= 1e-6)) Assert.Fail($"width {w} n {n} i {i}");
                var wantLog = SoftmaxReference.Forward(x, -1, log: true);
                fixed (float* px = x.Data, py = y) Softmax.Row(px, py, n, true, w);
                for (int i = 0; i < n; i++) if (!(Math.Abs(y[i] - wantLog.Data[i]) <= 1e-6 * Math.Max(1, Math.Abs(wantLog.Data[i])))) Assert.Fail($"log width {w} n {n} i {i}");
            }
    }

    [Fact]
    public void Softmax_HugeLogits_StayFinite_SubtractingTheMax()
    {
        var y = Softmax.Forward(Tensor.FromArray([1000f, 1001f, 1002f, -1000f], 1, 4)).Data;
        Assert.Equal(0.09003057f, y[0], 6); Assert.Equal(0.24472847f, y[1], 6); Assert.Equal(0.66524096f, y[2], 6); Assert.Equal(0f, y[3]);
        var l = Softmax.LogForward(Tensor.FromArray([1000f, 1001f, 1002f], 3)).Data;
        Assert.Equal(-2.4076059f, l[0], 5);
    }

    [Fact]
    public void Backward_MatchesJacobianProduct()
    {
        var x = Tensor.RandomUniform(new Random(6), -2, 2, 3, 5);
        var gy = Tensor.RandomUniform(new Random(7), -1, 1, 3, 5);
        var y = Softmax.Forward(x, 0);
        var gx = Softmax.Backward(y, gy, 0);
        for (int j = 0; j < 5; j++)
            for (int i = 0; i < 3; i++)
            {
                double s = 0;
                for (int k = 0; k < 3; k++) s += gy[k, j] * y[k, j] * ((i == k ? 1 : 0) - y[i, j]);
                Assert.Equal(s, gx[i, j], 5);
            }
    }

    [Fact]
    public void BadAxisOrScalarInput_ThrowsNamingOp()
    {
        var ex = Assert.Throws<ShapeException>(() => Softmax.Forward(new Tensor<float>(2, 3), 2));
        Assert.Contains("Softmax: argument 'axis' expected an axis in [-2, 1], got 2", ex.Message);
        ex = Assert.Throws<ShapeException>(() => Softmax.LogForward(Tensor.Scalar(1f)));
        Assert.Contains("LogSoftmax: argument 'input' expected rank >= 1", ex.Message);
        ex = Assert.Throws<ShapeException>(() => Softmax.Backward(new Tensor<float>(2, 3), new Tensor<float>(3, 2)));
        Assert.Contains("SoftmaxBackward: argument 'gradOutput'", ex.Message);
    }

    [Theory]
    [InlineData(false)] [InlineData(true)]
    public void Backward_LastAxisVectorRows_MatchStridedPathOnTransposedLayout(bool log)
    {
        // The same math through the contiguous-row path (axis −1) and the panel path (axis 0 of the transpose).
        var x = Tensor.RandomUniform(new Random(12), -3, 3, 7, 45);
        var gy = Tensor.RandomUniform(new Random(13), -1, 1, 7, 45);
        var xt = new Tensor<float>(45, 7); var gt = new Tensor<float>(45, 7);
        for (int i = 0; i < 7; i++) for (int j = 0; j < 45; j++) { xt[j, i] = x[i, j]; gt[j, i] = gy[i, j]; }
        var y = log ? Softmax.LogForward(x) : Softmax.Forward(x);
        var yt = log ? Softmax.LogForward(xt, 0) : Softmax.Forward(xt, 0);
        var g1 = log ? Softmax.LogBackward(y, gy) : Softmax.Backward(y, gy);
        var g2 = log ? Softmax.LogBackward(yt, gt, 0) : Softmax.Backward(yt, gt, 0);
        for (int i = 0; i < 7; i++) for (int j = 0; j < 45; j++) Assert.Equal((double)g2[j, i], g1[i, j], 1e-5);
    }
}
