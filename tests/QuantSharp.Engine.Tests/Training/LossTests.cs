using QuantSharp.Engine;
using QuantSharp.Engine.Training;

namespace QuantSharp.Engine.Tests.Training;

public class LossTests
{
    private static readonly int[] Labels = [1, 0];
    private static Tensor<float> Logits() => Tensor.FromArray([1f, 2f, 0.5f, -1f, 0f, 3f], 2, 3);

    // Central finite differences of the loss value against the returned gradient.
    private static void AssertFiniteDifferences(Func<Tensor<float>, LossResult> loss, Tensor<float> x, float eps = 1e-3f, double tol = 2e-3)
    {
        var g = loss(x).Gradient;
        for (int i = 0; i < x.Length; i++)
        {
            float o = x.Data[i];
            x.Data[i] = o + eps; double lp = loss(x).Loss;
            x.Data[i] = o - eps; double lm = loss(x).Loss;
            x.Data[i] = o;
            double numeric = (lp - lm) / (2 * eps);
            Assert.True(Math.Abs(numeric - g.Data[i]) <= tol * (1 + Math.Abs(numeric)), $"element {i}: analytic {g.Data[i]}, numeric {numeric}");
        }
    }

    [Fact]
    public void CrossEntropy_MatchesPyTorchGolden_MeanAndSum()
    {
        // torch.nn.functional.cross_entropy on the same logits/labels (PyTorch 1.13).
        var mean = Losses.CrossEntropy(Logits(), Labels);
        Assert.Equal(2.2651264667510986, mean.Loss, 5);
        float[] g = [0.11561194f, -0.18573415f, 0.07012219f, -0.49142608f, 0.02330631f, 0.46811977f];
        for (int i = 0; i < 6; i++) Assert.Equal(g[i], mean.Gradient.Data[i], 5);
        var sum = Losses.CrossEntropy(Logits(), Labels, Reduction.Sum);
        Assert.Equal(4.530252933502197, sum.Loss, 5);
        Assert.Equal(-0.98285216f, sum.Gradient.Data[3], 5);
    }

    [Fact]
    public void CrossEntropy_HugeLogits_StaysFinite()
    {
        var r = Losses.CrossEntropy(Tensor.FromArray([1000f, -1000f, 0f], 1, 3), [1]);
        Assert.Equal(2000f, r.Loss, 2);
        Assert.All(r.Gradient.Data, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void CrossEntropy_GradientMatchesFiniteDifferences()
    {
        var x = Tensor.RandomNormal(new Random(3), 0, 2, 4, 5);
        int[] labels = [0, 4, 2, 2];
        AssertFiniteDifferences(t => Losses.CrossEntropy(t, labels), x);
        AssertFiniteDifferences(t => Losses.CrossEntropy(t, labels, Reduction.Sum), x);
    }

    [Fact]
    public void CrossEntropyFromProbabilities_MatchesPyTorchGoldenAndFiniteDifferences()
    {
        var p = Tensor.FromArray([0.2f, 0.7f, 0.1f, 0.5f, 0.25f, 0.25f], 2, 3);
        var r = Losses.CrossEntropyFromProbabilities(p, Labels);
        Assert.Equal(0.5249110460281372, r.Loss, 5);
        Assert.Equal([0f, -0.71428573f, 0f, -1f, 0f, 0f], r.Gradient.Data);
        AssertFiniteDifferences(t => Losses.CrossEntropyFromProbabilities(t, Labels), p, 1e-4f);
    }

    [Fact]
    public void CrossEntropyFromProbabilities_ZeroProbability_IsClampedAtEpsilonWithZeroGradient()
    {
        // A quantized Softmax output rounds small probabilities to exactly 0: the loss is clamped at −log ε, and the
        // gradient is the clamp's derivative, 0 — not −1/ε, which would blow up quantization-aware training.
        var r = Losses.CrossEntropyFromProbabilities(Tensor.FromArray([1f, 0f, 0.5f, 0.5f], 2, 2), [1, 0]);
        Assert.Equal((-MathF.Log(Losses.ProbabilityEpsilon) - MathF.Log(0.5f)) / 2, r.Loss, 3);
        Assert.Equal(0f, r.Gradient.Data[1]);
        Assert.Equal(-1f / (2 * 0.5f), r.Gradient.Data[2]);
        Assert.All(r.Gradient.Data, g => Assert.True(float.IsFinite(g)));
    }

    [Fact]
    public void CrossEntropyFromProbabilities_BelowFloor_MatchesFiniteDifferencesOfTheClampedLoss()
    {
        // Probabilities below a floor of 1e-3 (loss flat there) and above it, away from the kink.
        var p = Tensor.FromArray([0.2f, 0.0004f, 0.3f, 0.6f, 0.0002f, 0.1f], 2, 3);
        AssertFiniteDifferences(t => Losses.CrossEntropyFromProbabilities(t, [1, 0], epsilon: 1e-3f), p, 1e-4f);
    }

    [Fact]
    public void NegativeLogLikelihood_OfLogSoftmax_EqualsCrossEntropy()
    {
        var logp = QuantSharp.Engine.Kernels.Softmax.LogForward(Logits(), 1);
        var nll = Losses.NegativeLogLikelihood(logp, Labels);
        Assert.Equal(Losses.CrossEntropy(Logits(), Labels).Loss, nll.Loss, 5);
        Assert.Equal([0f, -0.5f, 0f, -0.5f, 0f, 0f], nll.Gradient.Data);
        AssertFiniteDifferences(t => Losses.NegativeLogLikelihood(t, Labels, Reduction.Sum), logp);
    }

    [Fact]
    public void MseAndL1_MatchPyTorchGolden()
    {
        var a = Tensor.FromArray([1f, -2f, 0.5f, 3f], 4);
        var b = Tensor.FromArray([0.5f, -1f, 0.5f, 1f], 4);
        var mse = Losses.MeanSquaredError(a, b);
        Assert.Equal(1.3125f, mse.Loss);
        Assert.Equal([0.25f, -0.5f, 0f, 1f], mse.Gradient.Data);
        var l1 = Losses.L1(a, b);
        Assert.Equal(0.875f, l1.Loss);
        Assert.Equal([0.25f, -0.25f, 0f, 0.25f], l1.Gradient.Data);
        Assert.Equal(5.25f, Losses.MeanSquaredError(a, b, Reduction.Sum).Loss);
        Assert.Equal(3.5f, Losses.L1(a, b, Reduction.Sum).Loss);
    }

    [Fact]
    public void MseAndL1_GradientsMatchFiniteDifferences()
    {
        var rng = new Random(5);
        var x = Tensor.RandomNormal(rng, 0, 1, 3, 4);
        var y = Tensor.RandomNormal(rng, 0, 1, 3, 4);
        AssertFiniteDifferences(t => Losses.MeanSquaredError(t, y), x);
        AssertFiniteDifferences(t => Losses.L1(t, y, Reduction.Sum), x);
    }

    [Fact]
    public void Losses_BadInput_ThrowsShapeExceptionNamingArgument()
    {
        var e1 = Assert.Throws<ShapeException>(() => Losses.CrossEntropy(Tensor.Zeros(6), Labels));
        Assert.Contains("CrossEntropy: argument 'input' expected rank 2", e1.Message);
        var e2 = Assert.Throws<ShapeException>(() => Losses.NegativeLogLikelihood(Logits(), [1]));
        Assert.Contains("'labels' expected 2 labels", e2.Message);
        var e3 = Assert.Throws<ShapeException>(() => Losses.CrossEntropyFromProbabilities(Logits(), [1, 3]));
        Assert.Contains("[0, 2], got 3", e3.Message);
        var e4 = Assert.Throws<ShapeException>(() => Losses.MeanSquaredError(Tensor.Zeros(2, 3), Tensor.Zeros(3, 2)));
        Assert.Contains("MeanSquaredError: argument 'target' expected", e4.Message);
    }
}
