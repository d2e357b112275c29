using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Quantization.Tests.Sim;
using Xunit.Abstractions;

namespace QuantSharp.Quantization.Tests.Techniques;

public class AdaRoundEndToEndTests(ITestOutputHelper output)
{
    private const int TestImages = 1000, CalibrationImages = 128, Batch = 32, Iterations = 300;

    private static Dictionary<string, Tensor> Feed(Tensor<float> x) => new() { ["image"] = x };

    private static List<Tensor<float>> Batches(Tensor<float> images)
    {
        var list = new List<Tensor<float>>();
        int per = images.Length / images.Dims[0];
        for (int s = 0; s < images.Dims[0]; s += Batch)
        {
            int n = Math.Min(Batch, images.Dims[0] - s);
            list.Add(new Tensor<float>(images.Data.AsSpan(s * per, n * per).ToArray(), n, 1, 28, 28));
        }
        return list;
    }

    /// <summary>A W{bits}A8 per-tensor sim (param quantizers narrowed below 4 bits directly), optionally with frozen param encodings, calibrated.</summary>
    private static QuantizationSimModel Sim(Graph g, int bits, List<Tensor<float>> calibration, string? frozenEncodings)
    {
        var sim = new QuantizationSimModel(g, new QuantSimOptions { DefaultParamBw = Math.Max(4, bits), DefaultOutputBw = 8 });
        foreach (var q in sim.ParamQuantizers) q.BitWidth = bits;
        if (frozenEncodings is not null) sim.SetAndFreezeParamEncodings(frozenEncodings);
        sim.ComputeEncodings(s => { foreach (var b in calibration) s.Run(Feed(b)); });
        return sim;
    }

    private static (double Sqnr, double Top1, double Agreement) Measure(QuantizationSimModel sim, Tensor<float> fpLogits, Tensor<float> images, int[] labels)
    {
        var logits = sim.Run(images);
        double sqnr = ModelEvaluation.Compare("logits", fpLogits, logits).SqnrDb;
        double top1 = ModelEvaluation.Evaluate(_ => logits, [(images, labels)]).Top1;
        // Top-1 agreement with the FP32 model: the FP32 predictions taken as labels.
        double agreement = ModelEvaluation.Evaluate(_ => logits, [(images, ArgMax(fpLogits))]).Top1;
        return (sqnr, top1, agreement);
    }

    private static int[] ArgMax(Tensor<float> logits)
    {
        int n = logits.Dims[0], c = logits.Dims[1];
        var r = new int[n];
        for (int i = 0; i < n; i++)
        {
            var row = logits.AsSpan().Slice(i * c, c);
            for (int k = 1; k < c; k++) if (row[k] > row[r[i]]) r[i] = k;
        }
        return r;
    }

    [Theory]
    [InlineData(4, LayerReconstruction.Auto)]
    [InlineData(3, LayerReconstruction.Auto)]
    [InlineData(4, LayerReconstruction.Sampled)]
    [InlineData(4, LayerReconstruction.Exact)]
    public void SmallCnn_PerTensor_AdaRoundBeatsNearestOnLogitsSqnr_AndKeepsTop1(int bits, LayerReconstruction reconstruction)
    {
        if (!SimTestModels.DataAvailable) { Assert.Fail("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"); return; }
        var fp = SimTestModels.Trained();
        var test = SimTestModels.Test(TestImages);
        var calibration = Batches(SimTestModels.Calibration(CalibrationImages));
        var fpLogits = new Session(fp).Run(test.Images);
        double fpTop1 = ModelEvaluation.Evaluate(_ => fpLogits, [(test.Images, test.Labels)]).Top1;

        var nearest = Measure(Sim(fp, bits, calibration, null), fpLogits, test.Images, test.Labels);

        string dir = Path.Combine(Path.GetTempPath(), $"adaround_e2e_{bits}_{reconstruction}_{Environment.ProcessId}");
        var result = AdaRound.ApplyAdaround(fp, calibration,
            new AdaroundParameters { NumBatches = calibration.Count, NumIterations = Iterations, DefaultParamBw = bits, Reconstruction = reconstruction }, dir, "small_cnn");
        var ada = Measure(Sim(result.Graph, bits, calibration, result.EncodingsPath!), fpLogits, test.Images, test.Labels);

        output.WriteLine($"W{bits}A8 per-tensor, {reconstruction} reconstruction, {Iterations} iterations, {CalibrationImages} images, {TestImages} test images:");
        output.WriteLine($"  FP32 top-1 {fpTop1:P1}; nearest: SQNR {nearest.Sqnr:F2} dB, top-1 {nearest.Top1:P1}, FP32 agreement {nearest.Agreement:P1}; AdaRound: SQNR {ada.Sqnr:F2} dB, top-1 {ada.Top1:P1}, FP32 agreement {ada.Agreement:P1}");
        foreach (var l in result.Layers)
            output.WriteLine($"  {l.Node}: loss nearest {l.LossNearest:G4} → AdaRound {l.LossAdaRound:G4}, up {l.FractionRoundedUp:P1}, changed {l.FractionDifferentFromNearest:P1}, {l.Seconds:F2} s");

        Assert.Equal(3, result.Layers.Count);
        Assert.Empty(result.Skipped);
        Assert.All(result.Layers, l => Assert.True(l.LossAdaRound < l.LossNearest, $"{l.Node}: AdaRound {l.LossAdaRound} vs nearest {l.LossNearest}"));
        Assert.True(ada.Sqnr > nearest.Sqnr, $"AdaRound logits SQNR {ada.Sqnr:F2} dB vs nearest {nearest.Sqnr:F2} dB");
        // This small network loses no top-1 to nearest rounding (differences of ±1 point are sampling noise on 1,000 images),
        // so the classification check is agreement with the FP32 predictions and top-1 within noise of FP32.
        Assert.True(ada.Agreement >= nearest.Agreement - 0.005, $"AdaRound FP32 agreement {ada.Agreement:P1} vs nearest {nearest.Agreement:P1}");
        Assert.True(ada.Top1 >= fpTop1 - 0.015, $"AdaRound top-1 {ada.Top1:P1} vs FP32 {fpTop1:P1}");
    }

    [Fact]
    public void ApplyAdaround_ExportsParamEncodingsOnly_AndWeightsLieOnTheirGrid()
    {
        var g = SimTestModels.SmallCnn(seed: 3);
        var rng = new Random(5);
        var data = Enumerable.Range(0, 2).Select(_ => Tensor.RandomUniform(rng, 0, 1, 8, 1, 28, 28)).ToList();
        string dir = Path.Combine(Path.GetTempPath(), $"adaround_export_{Environment.ProcessId}");
        var result = AdaRound.ApplyAdaround(g, data, new AdaroundParameters { NumBatches = 2, NumIterations = 20, DefaultParamBw = 4 }, dir, "net");

        Assert.Equal(Path.Combine(dir, "net.encodings"), result.EncodingsPath!);
        var file = EncodingsJson.Load(result.EncodingsPath!);
        Assert.Empty(file.ActivationEncodings);
        foreach (var layer in result.Layers)
        {
            var e = file.ParamEncodings[layer.Weight];
            Assert.Equal(4, e.BitWidth);
            var w = (Tensor<float>)result.Graph.Initializers[layer.Weight];
            var original = (Tensor<float>)g.Initializers[layer.Weight];
            Assert.NotSame(original, w);
            for (int i = 0; i < w.Length; i++)
            {
                double k = w.Data[i] / e.Scale;
                Assert.True(Math.Abs(k - Math.Round(k)) < 1e-3, $"{layer.Weight}[{i}] = {w.Data[i]} is off the grid (scale {e.Scale})");
                Assert.InRange(Math.Round(k), e.Offset, e.Offset + e.Steps);
            }
        }
        Assert.Equal(["conv1", "conv2", "fc"], result.Layers.Select(l => l.Node).ToArray());
        // The sim freezes them: recomputing encodings keeps the AdaRound grid.
        var sim = new QuantizationSimModel(result.Graph, new QuantSimOptions { DefaultParamBw = 4 });
        sim.SetAndFreezeParamEncodings(result.EncodingsPath!);
        sim.ComputeEncodings(s => s.Run(Feed(data[0])));
        Assert.Equal(file.ParamEncodings["conv1.weight"], sim.Quantizer("conv1.weight").Encoding);
        Assert.True(sim.Quantizer("conv1.weight").IsFrozen);
    }

    [Fact]
    public void ApplyAdaround_PerChannelConfig_WeightsLieOnEachChannelsGrid()
    {
        var g = SimTestModels.SmallCnn(seed: 4);
        var rng = new Random(6);
        var data = new List<Tensor<float>> { Tensor.RandomUniform(rng, 0, 1, 8, 1, 28, 28) };
        string dir = Path.Combine(Path.GetTempPath(), $"adaround_pc_{Environment.ProcessId}");
        var result = AdaRound.ApplyAdaround(g, data,
            new AdaroundParameters { NumBatches = 1, NumIterations = 20, DefaultParamBw = 3, Config = QuantizerConfig.PerChannel }, dir, "pc");
        var file = EncodingsJson.Load(result.EncodingsPath!);
        Assert.Equal(3, result.Layers.Count);
        foreach (var layer in result.Layers)
        {
            var e = file.ParamEncodings[layer.Weight];
            Assert.True(e.IsPerChannel, $"{layer.Weight}: {e}");
            Assert.Equal(3, e.BitWidth);
            var w = (Tensor<float>)result.Graph.Initializers[layer.Weight];
            int inner = w.Length / w.Dims[0];
            for (int i = 0; i < w.Length; i++)
            {
                int c = i / inner;
                double k = w.Data[i] / e.Scales[c];
                Assert.True(Math.Abs(k - Math.Round(k)) < 1e-3, $"{layer.Weight}[{i}] = {w.Data[i]} is off channel {c}'s grid");
                Assert.InRange(Math.Round(k), e.Offsets[c], e.Offsets[c] + e.Steps);
            }
        }
    }

    [Fact]
    public void ApplyAdaround_WithQuantizedActivations_StillLowersEveryLayersLoss()
    {
        if (!SimTestModels.DataAvailable) { Assert.Fail("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)"); return; }
        var calibration = Batches(SimTestModels.Calibration(64));
        string dir = Path.Combine(Path.GetTempPath(), $"adaround_qa_{Environment.ProcessId}");
        var result = AdaRound.ApplyAdaround(SimTestModels.Trained(), calibration,
            new AdaroundParameters { NumBatches = 2, NumIterations = 200, DefaultParamBw = 4, QuantizeActivations = true }, dir, "qa");
        Assert.Equal(3, result.Layers.Count);
        foreach (var l in result.Layers)
        {
            output.WriteLine($"{l.Node}: nearest {l.LossNearest:G4} → AdaRound {l.LossAdaRound:G4}");
            Assert.True(l.LossAdaRound < l.LossNearest, $"{l.Node}: AdaRound {l.LossAdaRound} vs nearest {l.LossNearest}");
        }
    }

    [Fact]
    public void ApplyAdaround_NoData_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => AdaRound.ApplyAdaround(SimTestModels.SmallCnn(1), [], new AdaroundParameters(), Path.GetTempPath(), "x"));
        Assert.Contains("at least one batch", ex.Message);
    }
}
