using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Techniques;

namespace QuantSharp.Quantization.Tests.Techniques;

/// <summary>
/// The closed-form objective is the sampled one over every sample: same loss and same gradient with respect to V, for every
/// layer layout, however the data is split into chunks.
/// </summary>
public class LayerGramObjectiveTests
{
    private static Tensor<float> Rand(int seed, float lo, float hi, params int[] shape) => Tensor.RandomUniform(new Random(seed), lo, hi, shape);

    public sealed record Case(AdaRoundLayer Layer, Tensor<float> W, Tensor<float> X);

    private static Case Conv(int[] x, int[] w, ConvParams p, bool bias = true) =>
        new(AdaRoundLayer.Conv(w, bias ? Rand(2, -0.5f, 0.5f, w[0]) : null, p), Rand(1, -1, 1, w), Rand(3, -1, 1, x));

    public static readonly Dictionary<string, Func<Case>> Cases = new()
    {
        ["conv3x3_pad1"] = () => Conv([6, 3, 7, 7], [4, 3, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["conv_stride2"] = () => Conv([6, 2, 8, 8], [5, 2, 3, 3], ConvParams.Uniform(2, stride: 2, pad: 1)),
        ["depthwise"] = () => Conv([6, 4, 6, 6], [4, 1, 3, 3], ConvParams.Uniform(2, pad: 1, groups: 4)),
        ["grouped"] = () => Conv([6, 4, 5, 5], [6, 2, 1, 1], ConvParams.Uniform(2, groups: 2), bias: false),
        ["gemm_transB"] = () => new(AdaRoundLayer.Gemm([3, 6], Rand(2, -0.5f, 0.5f, 3), true), Rand(1, -1, 1, 3, 6), Rand(3, -1, 1, 12, 6)),
        ["gemm"] = () => new(AdaRoundLayer.Gemm([6, 3], Rand(2, -0.5f, 0.5f, 3), false), Rand(1, -1, 1, 6, 3), Rand(3, -1, 1, 12, 6)),
        ["matmul_no_bias"] = () => new(AdaRoundLayer.Gemm([6, 5], null, false), Rand(1, -1, 1, 6, 5), Rand(3, -1, 1, 12, 6)),
    };

    public static TheoryData<string, bool> CaseNamesAndRegularization()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in Cases.Keys) { data.Add(name, false); data.Add(name, true); }
        return data;
    }

    /// <summary>A target near the layer's output (as a real FP32 output is near the quantized model's), so the loss is not dominated by noise.</summary>
    private static Tensor<float> Target(Case c)
    {
        var y = new Tensor<float>(c.Layer.OutputShape(c.X.Dims));
        c.Layer.Forward(c.X, c.W, y);
        var noise = Rand(9, -0.2f, 0.2f, y.Shape);
        for (int i = 0; i < y.Length; i++) y.Data[i] += noise.Data[i];
        return y;
    }

    /// <summary>The objective fed in two chunks of samples (the streaming the technique does).</summary>
    private static LayerGramObjective InTwoChunks(Case c, Tensor<float> target, bool biasTerms = false)
    {
        var objective = new LayerGramObjective(c.Layer, c.W, biasTerms);
        int n = c.X.Dims[0], half = n / 2, xRow = c.X.Length / n, yRow = target.Length / n;
        foreach (var (start, count) in new[] { (0, half), (half, n - half) })
        {
            int[] xs = c.X.Shape, ys = target.Shape;
            xs[0] = ys[0] = count;
            var x = new Tensor<float>(xs);
            var y = new Tensor<float>(ys);
            Array.Copy(c.X.Data, (long)start * xRow, x.Data, 0, (long)count * xRow);
            Array.Copy(target.Data, (long)start * yRow, y.Data, 0, (long)count * yRow);
            objective.Add(x, y);
        }
        return objective;
    }

    [Theory]
    [MemberData(nameof(CaseNamesAndRegularization))]
    public void LossAndGradient_EqualTheSampledObjectiveOverEverySample(string name, bool regularize)
    {
        var c = Cases[name]();
        var target = Target(c);
        var grid = new AdaRoundGrid(c.W, Encoding.FromMinMax(-1, 1, 4));
        var rng = new Random(5);
        var v = Enumerable.Range(0, c.W.Length).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        var sampledGrad = new float[v.Length];
        var exactGrad = new float[v.Length];
        double sampled = AdaRoundOptimizer.Objective(c.Layer, grid, v, c.X, target, 4f, 0.05f, regularize, sampledGrad);
        double exact = AdaRoundOptimizer.Objective(InTwoChunks(c, target), grid, v, 4f, 0.05f, regularize, exactGrad);

        Assert.True(Math.Abs(exact - sampled) <= 1e-4 * sampled, $"{name}: exact loss {exact}, sampled {sampled}");
        double scale = sampledGrad.Max(Math.Abs);
        for (int i = 0; i < v.Length; i++)
            Assert.True(Math.Abs(exactGrad[i] - sampledGrad[i]) <= 1e-4 * scale, $"{name}: gradient {i} exact {exactGrad[i]}, sampled {sampledGrad[i]}");
    }

    /// <summary>With a bias change too (AdaQuant): loss, weight gradient and bias gradient against the direct computation.</summary>
    [Theory]
    [InlineData("conv3x3_pad1")]
    [InlineData("conv_stride2")]
    [InlineData("depthwise")]
    [InlineData("gemm_transB")]
    [InlineData("gemm")]
    public void WithABiasChange_LossAndBothGradients_MatchTheDirectComputation(string name)
    {
        var c = Cases[name]();
        var target = Target(c);
        var objective = InTwoChunks(c, target, biasTerms: true);
        int m = c.Layer.OutputChannels;
        var w = Rand(7, -1, 1, c.W.Shape);
        var delta = Rand(8, -0.3f, 0.3f, m).Data;
        var shifted = c.Layer.Bias!.Clone();
        for (int i = 0; i < m; i++) shifted.Data[i] += delta[i];
        var layer = c.Layer.ConvParams is { } p ? AdaRoundLayer.Conv(c.W.Shape, shifted, p) : AdaRoundLayer.Gemm(c.W.Shape, shifted, c.Layer.TransB);
        var y = new Tensor<float>(target.Dims);
        layer.Forward(c.X, w, y);
        var gy = new Tensor<float>(target.Dims);
        double expected = AdaRoundKernels.ReconstructionLoss(y.AsSpan(), target.AsSpan(), y.Dims[0], m, gy.AsSpan());
        var expectedW = new Tensor<float>(c.W.Dims);
        layer.BackwardWeight(c.X, gy, expectedW);
        var expectedB = new float[m];
        AdaQuantKernels.BiasGradient(gy.AsSpan(), y.Dims[0], m, expectedB);

        var gradW = new float[c.W.Length];
        var gradB = new float[m];
        double loss = objective.Evaluate(w.AsSpan(), delta, gradW, gradB);
        Assert.True(Math.Abs(loss - expected) <= 1e-4 * expected, $"{name}: loss {loss}, direct {expected}");
        double scaleW = expectedW.Data.Max(Math.Abs), scaleB = expectedB.Max(Math.Abs);
        for (int i = 0; i < gradW.Length; i++)
            Assert.True(Math.Abs(gradW[i] - expectedW.Data[i]) <= 1e-4 * scaleW, $"{name}: weight gradient {i} = {gradW[i]}, direct {expectedW.Data[i]}");
        for (int i = 0; i < m; i++)
            Assert.True(Math.Abs(gradB[i] - expectedB[i]) <= 1e-4 * scaleB, $"{name}: bias gradient {i} = {gradB[i]}, direct {expectedB[i]}");
    }

    [Fact]
    public void ABiasChange_WithoutBiasTerms_Throws()
    {
        var c = Cases["gemm"]();
        var objective = InTwoChunks(c, Target(c));
        Assert.Throws<InvalidOperationException>(() => objective.Evaluate(c.W.AsSpan(), new float[3], Span<float>.Empty, Span<float>.Empty));
    }

    [Fact]
    public void Loss_AtTheFp32Weight_IsTheResidualEnergy_AndRowsCountEveryPosition()
    {
        var c = Cases["conv_stride2"]();
        var target = Target(c);
        var objective = InTwoChunks(c, target);
        var y = new Tensor<float>(target.Dims);
        c.Layer.Forward(c.X, c.W, y);
        double expected = AdaRoundKernels.ReconstructionLoss(y.AsSpan(), target.AsSpan(), y.Dims[0], y.Dims[1], Span<float>.Empty);
        Assert.Equal(6L * 4 * 4, objective.Rows);
        Assert.Equal(expected, objective.Evaluate(c.W.AsSpan(), Span<float>.Empty), 1e-5 * expected);
    }

    [Fact]
    public void Evaluate_WithoutData_Throws()
    {
        var c = Cases["gemm"]();
        var e = Assert.Throws<InvalidOperationException>(() => new LayerGramObjective(c.Layer, c.W).Evaluate(c.W.AsSpan(), Span<float>.Empty));
        Assert.Contains("no data", e.Message);
    }

    [Fact]
    public void Optimize_Exact_BeatsNearest_AndMatchesTheSampledOptimumOnAFullBatch()
    {
        var c = Cases["conv3x3_pad1"]();
        var target = Target(c);
        var encoding = Encoding.FromMinMax(-1, 1, 3);
        var p = new AdaroundParameters { NumIterations = 600, LearningRate = 1e-2f };
        var exact = AdaRoundOptimizer.Optimize(InTwoChunks(c, target), c.W, encoding, p);
        var sampled = AdaRoundOptimizer.Optimize(c.Layer, c.W, encoding, c.X, target, p, c.X.Dims[0]);
        Assert.True(exact.LossAdaRound < exact.LossNearest, $"exact: AdaRound {exact.LossAdaRound}, nearest {exact.LossNearest}");
        Assert.Equal(sampled.LossNearest, exact.LossNearest, 1e-4 * sampled.LossNearest);
        // The same objective every iteration: the two runs differ only by float rounding, so the learnt weights agree almost everywhere.
        int differ = Enumerable.Range(0, c.W.Length).Count(i => exact.Weight.Data[i] != sampled.Weight.Data[i]);
        Assert.True(differ <= c.W.Length / 50, $"{differ} of {c.W.Length} weights rounded differently");
    }
}
