using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Quantization.Tests.Sim;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Techniques;

public sealed class BiasCorrectionFashionMnistTests(ITestOutputHelper output)
{
    private static IEnumerable<Tensor<float>> Batches(Tensor<float> images, int batch)
    {
        int n = images.Dims[0], per = images.Length / n;
        for (int s = 0; s < n; s += batch)
        {
            int k = Math.Min(batch, n - s);
            var shape = images.Shape;
            shape[0] = k;
            yield return new Tensor<float>(images.Data.AsSpan(s * per, k * per).ToArray(), shape);
        }
    }

    /// <summary>Calibrates a fresh W4A8 sim of <paramref name="graph"/> and measures logits SQNR vs FP32 and top-1 on the test images.</summary>
    private static (double SqnrDb, double Top1) Measure(Graph graph, QuantSimOptions options, Tensor<float> calibration, LabeledImagesView test, Tensor<float> fpLogits)
    {
        var sim = new QuantizationSimModel(graph, options);
        sim.ComputeEncodings(s => { foreach (var b in Batches(calibration, 128)) s.Run(b); });
        var logits = sim.Run(test.Images);
        var sqnr = ModelEvaluation.Compare("logits", fpLogits, logits).SqnrDb;
        var top1 = ModelEvaluation.Evaluate(_ => logits, [(test.Images, test.Labels)]).Top1;
        return (sqnr, top1);
    }

    private sealed record LabeledImagesView(Tensor<float> Images, int[] Labels);

    [Fact]
    public void W4A8PerTensor_SmallCnn_BiasCorrectionImprovesLogitsSqnr_AndDoesNotLoseTop1()
    {
        if (!SimTestModels.DataAvailable)
        {
            Assert.Fail("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed");
        }
        var options = new QuantSimOptions { DefaultParamBw = 4, DefaultOutputBw = 8, QuantScheme = QuantScheme.PostTrainingTf };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var fp = SimTestModels.Trained();
        var calibration = SimTestModels.Calibration(512);
        var t = SimTestModels.Test(1000);
        output.WriteLine($"(training the shared SmallCnn and loading Fashion-MNIST: {watch.Elapsed.TotalSeconds:F1} s)");
        var test = new LabeledImagesView(t.Images, t.Labels);
        var fpLogits = new Session(fp).Run(test.Images);
        double fpTop1 = ModelEvaluation.Evaluate(x => new Session(fp).Run(x), [(test.Images, test.Labels)]).Top1;

        var plain = Measure(fp, options, calibration, test, fpLogits);
        var corrected = fp.Clone();
        var report = BiasCorrection.CorrectBias(corrected, options, Batches(calibration, 128), numQuantSamples: 256, numBiasCorrectSamples: 512);
        var bc = Measure(corrected, options, calibration, test, fpLogits);

        output.WriteLine($"SmallCnn, W4A8 per-tensor (tf), 1,000 Fashion-MNIST test images: FP32 top-1 {fpTop1:P1}");
        output.WriteLine($"  plain:           logits SQNR {plain.SqnrDb:F2} dB, top-1 {plain.Top1:P1}");
        output.WriteLine($"  bias-corrected:  logits SQNR {bc.SqnrDb:F2} dB, top-1 {bc.Top1:P1}");
        output.WriteLine(report.ToString());
        output.WriteLine($"  (bias correction took {report.Elapsed.TotalSeconds:F2} s)");

        Assert.Equal(3, report.Layers.Count);
        Assert.All(report.Layers, l => Assert.True(l.MeanAbsShiftAfter < 0.25 * l.MeanAbsShiftBefore, report.ToString()));
        Assert.True(bc.SqnrDb > plain.SqnrDb, $"SQNR {plain.SqnrDb:F2} dB → {bc.SqnrDb:F2} dB");
        Assert.True(bc.Top1 >= plain.Top1 - 0.005, $"top-1 {plain.Top1:P1} → {bc.Top1:P1}");
    }

    /// <summary>
    /// The trained SmallCnn with an identity BatchNormalization inserted after conv1 whose statistics are conv1's
    /// per-channel output mean and variance on <paramref name="data"/> (γ = σ, β = μ): folding it changes nothing
    /// numerically but gives the analytical correction of conv2 a BN to read E[x] from, as in a BN-trained network.
    /// </summary>
    private static Graph WithMeasuredBn(Graph g, Tensor<float> data)
    {
        var conv1 = g.Nodes.Single(n => n.Name == "conv1");
        var y = new Session(g).Run(new Dictionary<string, Tensor> { ["image"] = data }, new RunOptions { Capture = [conv1.Outputs[0]] })
            .Captured[conv1.Outputs[0]] as Tensor<float>;
        int c = y!.Dims[1];
        var sums = new double[c];
        long count = BiasCorrectionMath.AccumulateChannelSums(y, sums);
        var mean = sums.Select(v => v / count).ToArray();
        var sq = new double[c];
        int spatial = y.Length / (y.Dims[0] * c);
        for (int i = 0; i < y.Length; i++) { int ch = i / spatial % c; sq[ch] += (y.Data[i] - mean[ch]) * (y.Data[i] - mean[ch]); }
        const float eps = 1e-5f;
        var variance = sq.Select(v => (float)(v / count)).ToArray();
        g.Initializers["bn1.weight"] = Tensor.FromArray(variance.Select(v => MathF.Sqrt(v + eps)).ToArray(), c);
        g.Initializers["bn1.bias"] = Tensor.FromArray(mean.Select(v => (float)v).ToArray(), c);
        g.Initializers["bn1.running_mean"] = Tensor.FromArray(mean.Select(v => (float)v).ToArray(), c);
        g.Initializers["bn1.running_var"] = Tensor.FromArray(variance, c);
        var bn = new Node("BatchNormalization", [conv1.Outputs[0], "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"], ["bn1_out"], "bn1")
            .With("epsilon", AttributeValue.FromFloat(eps));
        g.Nodes.Insert(g.Nodes.IndexOf(conv1) + 1, bn);
        g.Nodes.Single(n => n.Name == "relu1").Inputs[0] = "bn1_out";
        return g;
    }

    [Fact]
    public void W4A8PerTensor_SmallCnnWithBn_AnalyticalCorrectionOfConv2_ReducesItsShift()
    {
        if (!SimTestModels.DataAvailable)
        {
            Assert.Fail("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed");
        }
        var options = new QuantSimOptions { DefaultParamBw = 4, DefaultOutputBw = 8, QuantScheme = QuantScheme.PostTrainingTf };
        var calibration = SimTestModels.Calibration(512);
        var t = SimTestModels.Test(1000);
        var test = new LabeledImagesView(t.Images, t.Labels);
        var g = WithMeasuredBn(SimTestModels.Trained(), calibration);
        var (fold, folded) = ModelPreparer.FoldAllBatchNormsToWeight(g);
        Assert.Equal("conv1", Assert.Single(fold.Folded).LayerNode);
        var fpLogits = new Session(g).Run(test.Images);
        var plain = Measure(g, options, calibration, test, fpLogits);

        var analytical = g.Clone();
        var report = BiasCorrection.CorrectBias(analytical, options, Batches(calibration, 128), 256, 512, foldedBatchNorms: folded);
        var a = Measure(analytical, options, calibration, test, fpLogits);
        var empirical = g.Clone();
        var reportEmpirical = BiasCorrection.CorrectBias(empirical, options, Batches(calibration, 128), 256, 512,
            new BiasCorrectionOptions { PerformOnlyEmpirical = true });
        var e = Measure(empirical, options, calibration, test, fpLogits);

        output.WriteLine("SmallCnn + identity BN after conv1 (folded), W4A8 per-tensor (tf), 1,000 test images:");
        output.WriteLine($"  plain:                       logits SQNR {plain.SqnrDb:F2} dB, top-1 {plain.Top1:P1}");
        output.WriteLine($"  analytical conv2, rest emp.: logits SQNR {a.SqnrDb:F2} dB, top-1 {a.Top1:P1}");
        output.WriteLine($"  empirical everywhere:        logits SQNR {e.SqnrDb:F2} dB, top-1 {e.Top1:P1}");
        output.WriteLine(report.ToString());
        output.WriteLine(reportEmpirical.ToString());

        var conv2 = report.Layers.Single(l => l.Layer == "conv2");
        Assert.Equal(BiasCorrectionKind.Analytical, conv2.Kind);
        Assert.True(conv2.MeanAbsShiftAfter < conv2.MeanAbsShiftBefore, report.ToString());
        Assert.True(a.SqnrDb > plain.SqnrDb, $"SQNR {plain.SqnrDb:F2} dB → {a.SqnrDb:F2} dB (analytical)");
    }
}
