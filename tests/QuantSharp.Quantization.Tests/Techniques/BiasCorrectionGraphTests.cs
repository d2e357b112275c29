using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;

namespace QuantSharp.Quantization.Tests.Techniques;

public sealed class BiasCorrectionGraphTests
{
    private static readonly QuantSimOptions W4A8 = new() { DefaultParamBw = 4, DefaultOutputBw = 8, QuantScheme = QuantScheme.PostTrainingTf };

    /// <summary>x [N, 2] → Gemm(W [3, 2], transB) → "y"; weights far off the 4-bit grid, inputs positive so the error has a mean.</summary>
    private static Graph Linear(bool bias = true)
    {
        var b = new GraphBuilder("linear", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(2));
        var w = b.Initializer("fc.weight", Tensor.FromArray(new[] { 1.0f, 0.3f, -0.55f, 0.1f, 0.7f, -0.93f }, 3, 2));
        Value? bv = bias ? b.Initializer("fc.bias", Tensor.FromArray(new[] { 0.1f, -0.2f, 0.3f }, 3)) : null;
        b.Output(b.Gemm(x, w, bv, transB: true, name: "fc"), name: "y");
        return b.Build();
    }

    private static List<Tensor<float>> Batches(Random rng, int count, params int[] shape) =>
        Enumerable.Range(0, count).Select(_ => Tensor.RandomUniform(rng, 0.5f, 1.5f, shape)).ToList();

    /// <summary>A sim with parameter encodings only (activation quantizers saw no data and are disabled).</summary>
    private static QuantizationSimModel ParamsOnly(Graph g)
    {
        var sim = new QuantizationSimModel(g, W4A8);
        sim.ComputeEncodings(_ => { });
        return sim;
    }

    [Fact]
    public void Empirical_OnALayerWithAKnownSystematicShift_RemovesItExactly()
    {
        var g = Linear();
        var data = Batches(new Random(1), 4, 16, 2);
        var original = g.Clone();
        var report = BiasCorrection.CorrectBias(g, W4A8, data, numQuantSamples: 64, numBiasCorrectSamples: 64);

        // Expected: the bias moves by −mean over the data of (W_q·x_q − W·x), W_q and x_q from the sim's own quantizers.
        var sim = new QuantizationSimModel(original, W4A8);
        sim.ComputeEncodings(s => { foreach (var x in data) s.Run(x); });
        var w = (Tensor<float>)original.Initializers["fc.weight"];
        var wq = sim.Quantizer("fc.weight").Forward(w, false, HeapAllocator.Instance);
        var shift = new double[3];
        foreach (var x in data)
        {
            var xq = sim.Quantizer("x").Forward(x, false, HeapAllocator.Instance);
            for (int n = 0; n < 16; n++)
                for (int m = 0; m < 3; m++)
                    for (int c = 0; c < 2; c++) shift[m] += ((double)wq[m, c] * xq[n, c] - (double)w[m, c] * x[n, c]) / 64.0;
        }
        Assert.Contains(shift, s => Math.Abs(s) > 0.01);   // the shift is real
        var before = (Tensor<float>)original.Initializers["fc.bias"];
        var after = (Tensor<float>)g.Initializers["fc.bias"];
        for (int m = 0; m < 3; m++) Assert.Equal(before[m] - shift[m], after[m], 1e-5);

        var layer = Assert.Single(report.Layers);
        Assert.Equal(BiasCorrectionKind.Empirical, layer.Kind);
        Assert.Equal(BiasCorrectionMath.MeanAbs(shift), layer.MeanAbsShiftBefore, 1e-5);
        Assert.True(layer.MeanAbsShiftAfter < 1e-5, $"shift left after correction: {layer.MeanAbsShiftAfter}");
        Assert.Equal(64, report.BiasCorrectSamples);
    }

    [Fact]
    public void LayerWithoutBias_GetsOne_AndSampleCountsCutTheLastBatch()
    {
        var g = Linear(bias: false);
        var report = BiasCorrection.CorrectBias(g, W4A8, Batches(new Random(2), 5, 10, 2), numQuantSamples: 25, numBiasCorrectSamples: 13);
        var layer = Assert.Single(report.Layers);
        Assert.True(layer.BiasAdded);
        Assert.Equal(layer.Bias, g.Nodes.Single(n => n.Name == "fc").Inputs[2]);
        Assert.Contains(((Tensor<float>)g.Initializers[layer.Bias]).Data, v => v != 0);
        Assert.Equal(25, report.QuantSamples);
        Assert.Equal(13, report.BiasCorrectSamples);
        new Session(g).Run(Tensor.Ones(1, 2));   // still a valid graph
    }

    [Fact]
    public void LayersToIgnore_AreSkippedAndKeepTheirBias()
    {
        var g = Linear();
        var bias = ((Tensor<float>)g.Initializers["fc.bias"]).Data.ToArray();
        var report = BiasCorrection.CorrectBias(g, W4A8, Batches(new Random(3), 2, 8, 2), 16, 16,
            new BiasCorrectionOptions { LayersToIgnore = ["fc"] });
        Assert.Empty(report.Layers);
        Assert.Equal("fc", Assert.Single(report.Skipped).Node);
        Assert.Equal(bias, ((Tensor<float>)g.Initializers["fc.bias"]).Data);
    }

    /// <summary>x [N, 2, 6, 6] → conv1 (1×1) → BN → Relu → conv2 (3×3) → "y", BN with γ = (1, 0.5, 2), β = (0.2, −0.1, 0.5).</summary>
    private static Graph ConvBnRelu()
    {
        var rng = new Random(9);
        var b = new GraphBuilder("conv_bn_relu", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(2), Dim.Fixed(6), Dim.Fixed(6));
        var h = b.ConvLayer(x, 2, 3, 1, rng, "conv1");
        h = b.Relu(b.BatchNormLayer(h, 3, "bn1"), name: "relu1");
        b.Output(b.ConvLayer(h, 3, 2, 3, rng, "conv2"), name: "y");
        var g = b.Build();
        ((Tensor<float>)g.Initializers["bn1.weight"]).Data.AsSpan().SetFrom([1f, 0.5f, 2f]);
        ((Tensor<float>)g.Initializers["bn1.bias"]).Data.AsSpan().SetFrom([0.2f, -0.1f, 0.5f]);
        return g;
    }

    [Fact]
    public void ConvAfterFoldedBnAndRelu_IsCorrectedAnalytically_WithTheClippedNormalMean()
    {
        var g = ConvBnRelu();
        var (_, folded) = ModelPreparer.FoldAllBatchNormsToWeight(g);
        Assert.True(folded.ContainsKey("conv1"));
        var original = g.Clone();
        // The uniform test data do not follow the BN statistics, so the analytical correction is kept only when refusal is off.
        var report = BiasCorrection.CorrectBias(g, W4A8, Batches(new Random(4), 2, 4, 2, 6, 6), 8, 8,
            new BiasCorrectionOptions { RefuseIncreasedShift = false }, foldedBatchNorms: folded);

        Assert.Equal(["conv1", "conv2"], report.Layers.Select(l => l.Layer));
        Assert.Equal(BiasCorrectionKind.Empirical, report.Layers[0].Kind);
        Assert.Equal(BiasCorrectionKind.Analytical, report.Layers[1].Kind);
        Assert.Contains("relu1", report.Layers[1].Why);

        // conv2's bias moved by −Σ (W_q − W)·E[relu(N(β, γ²))].
        var w = (Tensor<float>)original.Initializers["conv2.weight"];
        var wq = ParamsOnly(original).Quantizer("conv2.weight").Forward(w, false, HeapAllocator.Instance);
        double[] ex = [BiasCorrectionMath.ReluNormalMean(0.2, 1), BiasCorrectionMath.ReluNormalMean(-0.1, 0.5), BiasCorrectionMath.ReluNormalMean(0.5, 2)];
        var before = (Tensor<float>)original.Initializers["conv2.bias"];
        var after = (Tensor<float>)g.Initializers["conv2.bias"];
        for (int m = 0; m < 2; m++)
        {
            double s = 0;
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < 9; k++) s += (wq[m, c, k / 3, k % 3] - w[m, c, k / 3, k % 3]) * ex[c];
            Assert.Equal(before[m] - s, after[m], 1e-5);
        }
    }

    [Fact]
    public void PerformOnlyEmpirical_OrNoBnStatistics_CorrectsEveryLayerEmpirically()
    {
        foreach (bool onlyEmpirical in new[] { true, false })
        {
            var g = ConvBnRelu();
            var (_, folded) = ModelPreparer.FoldAllBatchNormsToWeight(g);
            var report = BiasCorrection.CorrectBias(g, W4A8, Batches(new Random(4), 2, 4, 2, 6, 6), 8, 8,
                new BiasCorrectionOptions { PerformOnlyEmpirical = onlyEmpirical }, onlyEmpirical ? folded : null);
            Assert.All(report.Layers, l => Assert.Equal(BiasCorrectionKind.Empirical, l.Kind));
            Assert.All(report.Layers, l => Assert.True(l.MeanAbsShiftAfter <= l.MeanAbsShiftBefore + 1e-6, report.ToString()));
        }
    }

    [Fact]
    public void FeedsOverload_CorrectsATwoInputGraph_AndTheTensorOverloadRefusesIt()
    {
        var b = new GraphBuilder("two_inputs", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(2));
        var z = b.Input("z", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(2));
        var w = b.Initializer("fc.weight", Tensor.FromArray(new[] { 1.0f, 0.3f, -0.55f, 0.1f, 0.7f, -0.93f }, 3, 2));
        b.Output(b.Gemm(b.Add(x, z, name: "add"), w, null, transB: true, name: "fc"), name: "y");
        var g = b.Build();
        var rng = new Random(6);
        var feeds = Enumerable.Range(0, 3).Select(_ => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor>
        {
            ["x"] = Tensor.RandomUniform(rng, 0.5f, 1.5f, 8, 2),
            ["z"] = Tensor.RandomUniform(rng, 0f, 1f, 8, 2),
        }).ToList();
        var e = Assert.Throws<ArgumentException>(() => BiasCorrection.CorrectBias(g, W4A8, [Tensor.Ones(8, 2)], 8, 8));
        Assert.Contains("one input", e.Message);
        var report = BiasCorrection.CorrectBias(g, W4A8, feeds, 20, 20);
        var layer = Assert.Single(report.Layers);
        Assert.True(layer.BiasAdded);
        Assert.True(layer.MeanAbsShiftAfter < 1e-5 && layer.MeanAbsShiftBefore > 1e-3, report.ToString());
    }

    [Fact]
    public void BadArguments_AreRejectedWithTheArgumentName()
    {
        var data = Batches(new Random(5), 1, 4, 2);
        Assert.Contains("numQuantSamples", Assert.Throws<ArgumentException>(() => BiasCorrection.CorrectBias(Linear(), W4A8, data, 0, 4)).Message);
        Assert.Contains("numBiasCorrectSamples", Assert.Throws<ArgumentException>(() => BiasCorrection.CorrectBias(Linear(), W4A8, data, 4, -1)).Message);
        Assert.Contains("no samples", Assert.Throws<ArgumentException>(() => BiasCorrection.CorrectBias(Linear(), W4A8, new List<Tensor<float>>(), 4, 4)).Message);
    }
}

internal static class SpanFill
{
    /// <summary>Copies <paramref name="values"/> into the start of <paramref name="span"/>.</summary>
    public static void SetFrom(this Span<float> span, float[] values) => values.CopyTo(span);
}
