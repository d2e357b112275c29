using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Kernels.Operators;
using static QuantSharp.Engine.Tests.Kernels.ElementwiseTestSupport;

namespace QuantSharp.Engine.Tests.Kernels;

public class ActivationTests
{
    [Theory]
    [InlineData("Relu")] [InlineData("LeakyRelu")] [InlineData("Clip")] [InlineData("HardSigmoid")] [InlineData("HardSwish")]
    public void ExactActivations_VectorPathsMatchScalarBitForBit(string op)
    {
        switch (op)
        {
            case "Relu": UnaryMatchesScalar(new ReluOperator(), 0, 0); break;
            case "LeakyRelu": UnaryMatchesScalar(new LeakyReluOperator(0.1f), 0, 0); break;
            case "Clip": UnaryMatchesScalar(new ClipOperator(-1f, 2f), 0, 0); break;
            case "HardSigmoid": UnaryMatchesScalar(new HardSigmoidOperator(0.2f, 0.5f), 0, 0); break;
            case "HardSwish": UnaryMatchesScalar(new HardSwishOperator(), 0, 0); break;
        }
    }

    // Named tolerances of the transcendental vector paths against their scalar specifications.
    [Fact] public void Sigmoid_VectorWithin4Ulp() => UnaryMatchesScalar(new SigmoidOperator(), 4, 1e-30, -90f, 90f);
    [Fact] public void Tanh_VectorWithin4UlpPlus1e8() => UnaryMatchesScalar(new TanhOperator(), 4, 1e-8, -10f, 10f);
    [Fact] public void Tanh_VectorWithin4UlpNearZero() => UnaryMatchesScalar(new TanhOperator(), 4, 1e-10, -0.6f, 0.6f, specials: false);
    [Fact] public void Erf_VectorWithin3e7Absolute() => UnaryMatchesScalar(new ErfOperator(), 0, 3e-7, -5f, 5f);
    [Fact] public void Gelu_VectorWithin3e7TimesMagnitude() => UnaryMatchesScalar(new GeluOperator(), 0, 3e-7, -8f, 8f, absPerMagnitude: 3e-7);
    [Fact] public void GeluTanh_VectorWithin4UlpPlus1e7TimesMagnitude() => UnaryMatchesScalar(new GeluTanhOperator(), 4, 1e-8, -8f, 8f, absPerMagnitude: 1e-7);
    [Fact] public void Softplus_VectorWithin4Ulp() => UnaryMatchesScalar(new SoftplusOperator(), 4, 1e-30, -40f, 40f);
    [Fact] public void Silu_VectorWithin4Ulp() => UnaryMatchesScalar(new SiluOperator(), 4, 1e-30, -40f, 40f);

    [Theory]
    [InlineData("Relu")] [InlineData("LeakyRelu")] [InlineData("Clip")] [InlineData("HardSigmoid")] [InlineData("HardSwish")]
    [InlineData("Sigmoid")] [InlineData("Tanh")] [InlineData("Abs")] [InlineData("Sqrt")] [InlineData("Reciprocal")]
    public void ExactBackwardOperators_VectorMatchesScalarBitForBit(string op)
    {
        switch (op)
        {
            case "Relu": BinaryMatchesScalar(new ReluGradOperator(), 0, 0); break;
            case "LeakyRelu": BinaryMatchesScalar(new LeakyReluGradOperator(0.2f), 0, 0); break;
            case "Clip": BinaryMatchesScalar(new ClipGradOperator(-1f, 2f), 0, 0); break;
            case "HardSigmoid": BinaryMatchesScalar(new HardSigmoidGradOperator(0.2f, 0.5f), 0, 0); break;
            case "HardSwish": BinaryMatchesScalar(new HardSwishGradOperator(), 0, 0); break;
            case "Sigmoid": BinaryMatchesScalar(new SigmoidGradOperator(), 0, 0); break;
            case "Tanh": BinaryMatchesScalar(new TanhGradOperator(), 0, 0); break;
            case "Abs": BinaryMatchesScalar(new AbsGradOperator(), 0, 0); break;
            case "Sqrt": BinaryMatchesScalar(new SqrtGradOperator(), 0, 0); break;
            case "Reciprocal": BinaryMatchesScalar(new ReciprocalGradOperator(), 0, 0); break;
        }
    }

    [Theory]
    [InlineData("Erf")] [InlineData("Gelu")] [InlineData("GeluTanh")] [InlineData("Softplus")] [InlineData("Silu")]
    public void TranscendentalBackwardOperators_VectorWithin1e6Relative(string op)
    {
        // gradient values are O(1)·g with g in [-8, 8]: 1e-6·8 absolute plus 8 ulp.
        switch (op)
        {
            case "Erf": BinaryMatchesScalar(new ErfGradOperator(), 8, 8e-6, -6f, 6f, false); break;
            case "Gelu": BinaryMatchesScalar(new GeluGradOperator(), 8, 8e-6, -6f, 6f, false); break;
            case "GeluTanh": BinaryMatchesScalar(new GeluTanhGradOperator(), 8, 8e-6, -6f, 6f, false); break;
            case "Softplus": BinaryMatchesScalar(new SoftplusGradOperator(), 8, 8e-6, -6f, 6f, false); break;
            case "Silu": BinaryMatchesScalar(new SiluGradOperator(), 8, 8e-6, -6f, 6f, false); break;
        }
    }

    [Fact]
    public void HardSwish_HandValues()
    {
        var y = Activations.HardSwish(Tensor.FromArray([-4f, -3f, -1.5f, 0f, 1.5f, 3f, 4f], 7)).Data;
        Assert.Equal(new[] { -0f, -0f, -0.375f, 0f, 1.125f, 3f, 4f }, y);
    }

    [Fact]
    public void Gelu_HandValues_ExactAndTanhForms()
    {
        // Φ-based values (PyTorch gelu): gelu(1) = 0.8413447, gelu(-1) = -0.1586553, gelu(2) = 1.9544997.
        var x = Tensor.FromArray([1f, -1f, 2f, 0f, -3f, 0.5f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f], 17);
        var g = Activations.Gelu(x).Data;
        Assert.Equal(0.8413447f, g[0], 6); Assert.Equal(-0.1586553f, g[1], 6); Assert.Equal(1.9544997f, g[2], 6);
        Assert.Equal(0f, g[3]); Assert.Equal(-0.0040496f, g[4], 6); Assert.Equal(0.3457312f, g[5], 6);
        // tanh form: gelu_tanh(1) = 0.8411920, gelu_tanh(-1) = -0.1588080.
        var t = Activations.Gelu(x, approximate: true).Data;
        Assert.Equal(0.8411920f, t[0], 6); Assert.Equal(-0.1588080f, t[1], 6); Assert.Equal(1.9545977f, t[2], 6);
    }

    [Fact]
    public void Erf_Softplus_Sigmoid_HandValues()
    {
        var x = Tensor.FromArray([0.5f, 1f, 2f, -0.1f, 0f, 30f, -30f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f], 17);
        var e = Activations.Erf(x).Data;
        Assert.Equal(0.5204999f, e[0], 6); Assert.Equal(0.8427008f, e[1], 6); Assert.Equal(0.9953223f, e[2], 6); Assert.Equal(-0.1124629f, e[3], 6);
        var s = Activations.Softplus(x).Data;
        Assert.Equal(0.9740770f, s[0], 6); Assert.Equal(MathF.Log(2f), s[4], 6); Assert.Equal(30f, s[5], 5); Assert.True(Math.Abs(s[6] / 9.357623e-14 - 1) < 1e-5);
        var sg = Activations.Sigmoid(x).Data;
        Assert.Equal(0.5f, sg[4]); Assert.Equal(0.7310586f, sg[1], 6);
    }

    [Fact]
    public void Relu6_And_HardSigmoidDefaults_ClampAsOnnx()
    {
        Assert.Equal(new[] { 0f, 0.5f, 6f }, Activations.Relu6(Tensor.FromArray([-1f, 0.5f, 7f], 3)).Data);
        Assert.Equal(new[] { 0f, 0.5f, 0.9f, 1f }, Activations.HardSigmoid(Tensor.FromArray([-3f, 0f, 2f, 3f], 4)).Data);
        Assert.Equal(new[] { -0.2f, 3f }, Activations.LeakyRelu(Tensor.FromArray([-2f, 3f], 2), 0.1f).Data);
    }

    [Fact]
    public void Clip_MinAboveMax_ThrowsNamingArgument()
    {
        var ex = Assert.Throws<ShapeException>(() => Activations.Clip(new Tensor<float>(2), 3f, 1f));
        Assert.Contains("Clip: argument 'max'", ex.Message);
    }

    [Fact]
    public void Backward_GradOutputOfOtherShape_ThrowsNamingGradOutput()
    {
        var ex = Assert.Throws<ShapeException>(() => Activations.ReluBackward(new Tensor<float>(2, 3), new Tensor<float>(3, 2)));
        Assert.Contains("ReluBackward: argument 'gradOutput' expected shape [2,3], got [3,2]", ex.Message);
    }
}
