using QuantSharp.Engine.Autograd;

namespace QuantSharp.Engine.Tests.Autograd;

public class ElementwiseGradTests
{
    private static Tensor<float> U(int seed, float lo, float hi, params int[] shape) => Tensor.RandomUniform(new Random(seed), lo, hi, shape);

    // Inputs away from zero so a·b, a/b and the kinks stay smooth under ±eps.
    private static Tensor<float> AwayFromZero(int seed, params int[] shape)
    {
        var t = U(seed, 0.5f, 2f, shape);
        var rng = new Random(seed + 100);
        for (int i = 0; i < t.Length; i++) if (rng.Next(2) == 0) t.Data[i] = -t.Data[i];
        return t;
    }

    public static TheoryData<int[], int[]> Shapes => new()
    {
        { [2, 3], [2, 3] }, { [2, 3], [3] }, { [2, 3], [2, 1] }, { [2, 1, 3], [4, 1] }, { [3], [] },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AddSubMulDiv_GradientsMatchFiniteDifferences_WithBroadcast(int[] sa, int[] sb)
    {
        var a = AwayFromZero(1, sa); var b = AwayFromZero(2, sb);
        GradientChecker.AssertGradients(v => Ops.Add(v[0], v[1]), [a, b]);
        GradientChecker.AssertGradients(v => Ops.Sub(v[0], v[1]), [a, b]);
        GradientChecker.AssertGradients(v => Ops.Mul(v[0], v[1]), [a, b]);
        GradientChecker.AssertGradients(v => Ops.Div(v[0], v[1]), [a, b], eps: 1e-3);
    }

    [Fact]
    public void Pow_GradientsForBaseAndExponent_WithBroadcast()
    {
        GradientChecker.AssertGradients(v => Ops.Pow(v[0], v[1]), [U(3, 0.5f, 2f, 2, 3), U(4, -1.5f, 2.5f, 3)], eps: 1e-3);
    }

    [Fact]
    public void MinMax_GradientGoesToTheSelectedOperand()
    {
        var a = U(5, -2f, 2f, 2, 3);
        var b = Tensor.FromArray([-1.5f, 0.3f, 1.1f], 3); // far from a's values at the probed eps
        for (int i = 0; i < a.Length; i++) if (Math.Abs(a.Data[i] - b.Data[i % 3]) < 0.05f) a.Data[i] += 0.2f;
        GradientChecker.AssertGradients(v => Ops.Max(v[0], v[1]), [a, b], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Min(v[0], v[1]), [a, b], eps: 1e-3);
    }

    [Fact]
    public void MinMax_Ties_SplitGradientEqually()
    {
        var a = new Variable(Tensor.FromArray([2f], 1), requiresGrad: true);
        var b = new Variable(Tensor.FromArray([2f], 1), requiresGrad: true);
        Ops.Max(a, b).Backward();
        Assert.Equal(0.5f, a.Grad!.Data[0]); Assert.Equal(0.5f, b.Grad!.Data[0]);
    }

    [Fact]
    public void UnaryArithmetic_GradientsMatchFiniteDifferences()
    {
        var x = AwayFromZero(6, 3, 4);
        var pos = U(7, 0.5f, 3f, 3, 4);
        GradientChecker.AssertGradients(v => Ops.Neg(v[0]), [x]);
        GradientChecker.AssertGradients(v => Ops.Abs(v[0]), [x]);
        GradientChecker.AssertGradients(v => Ops.Square(v[0]), [x]);
        GradientChecker.AssertGradients(v => Ops.Exp(v[0]), [x], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Log(v[0]), [pos], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Sqrt(v[0]), [pos], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Reciprocal(v[0]), [pos], eps: 1e-3);
    }

    [Fact]
    public void PiecewiseActivations_GradientsMatchFiniteDifferences_AwayFromKinks()
    {
        // Values avoid 0 (relu, leaky), the clip bounds (−1, 2; 0, 6), hard-sigmoid's ±2.5 and hard-swish's ±3.
        var x = Tensor.FromArray([-3.6f, -2.8f, -1.7f, -0.6f, -0.3f, 0.4f, 0.9f, 1.6f, 2.2f, 2.7f, 3.4f, 6.5f], 3, 4);
        GradientChecker.AssertGradients(v => Ops.Relu(v[0]), [x]);
        GradientChecker.AssertGradients(v => Ops.LeakyRelu(v[0], 0.1f), [x]);
        GradientChecker.AssertGradients(v => Ops.Clip(v[0], -1f, 2f), [x]);
        GradientChecker.AssertGradients(v => Ops.Relu6(v[0]), [x]);
        GradientChecker.AssertGradients(v => Ops.HardSigmoid(v[0]), [x]);
        GradientChecker.AssertGradients(v => Ops.HardSwish(v[0]), [x]);
    }

    [Fact]
    public void SmoothActivations_GradientsMatchFiniteDifferences()
    {
        var x = U(8, -4f, 4f, 4, 5);
        GradientChecker.AssertGradients(v => Ops.Sigmoid(v[0]), [x], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Tanh(v[0]), [x], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Erf(v[0]), [x], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Gelu(v[0]), [x], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Gelu(v[0], approximate: true), [x], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Softplus(v[0]), [x], eps: 1e-3);
        GradientChecker.AssertGradients(v => Ops.Silu(v[0]), [x], eps: 1e-3);
    }

    [Fact]
    public void Composite_SharedInputThroughSeveralOps_AccumulatesGradients()
    {
        // y = sigmoid(x)·x + relu(x − b), x used three times.
        var x = AwayFromZero(9, 2, 5); var b = Tensor.FromArray([0.1f, -0.2f, 0.05f, 0.3f, -0.15f], 5);
        GradientChecker.AssertGradients(v => Ops.Add(Ops.Mul(Ops.Sigmoid(v[0]), v[0]), Ops.Relu(Ops.Sub(v[0], v[1]))), [x, b], eps: 1e-3);
    }

    [Fact]
    public void Add_NonBroadcastingShapes_ThrowNamingOp()
    {
        var ex = Assert.Throws<ShapeException>(() => Ops.Add(new Variable(new Tensor<float>(2, 3)), new Variable(new Tensor<float>(2))));
        Assert.Contains("Add", ex.Message);
    }
}
