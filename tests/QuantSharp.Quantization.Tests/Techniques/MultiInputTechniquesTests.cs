using System.Text.Json;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Analysis;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Quantization.Tests.Techniques;

/// <summary>
/// Every technique and the analysis on a multi-input model: the tiny BERT (<see cref="TinyBert"/>, int64 input_ids /
/// attention_mask / token_type_ids) through AdaRound, AdaQuant, sequential MSE, AutoQuant, bias correction (empirical
/// and analytical), QuantAnalyzer and PtqPipeline, each fed named feeds; each run is checked on its own objective against
/// plain nearest rounding / full-range calibration.
/// </summary>
public sealed class MultiInputTechniquesTests
{
    private const int Sequence = 10;
    private static readonly List<IReadOnlyDictionary<string, Tensor>> Calibration = TinyBert.Batches(3, 8, Sequence, seed: 100);
    private static readonly List<IReadOnlyDictionary<string, Tensor>> Held = TinyBert.Batches(2, 8, Sequence, seed: 900);
    private static readonly string[] Linear = ["attention.query.matmul", "attention.key.matmul", "attention.value.matmul", "attention.output.matmul",
        "ffn.up.matmul", "ffn.down.matmul", "pooler", "classifier"];

    private static QuantSimOptions W4A8 => new() { DefaultParamBw = 4, DefaultOutputBw = 8, Config = QuantizerConfig.PerChannel };

    /// <summary>Output MSE of <paramref name="sim"/> against FP32 logits on the held-out feeds.</summary>
    private static double LogitsMse(Graph fp32, QuantizationSimModel sim)
    {
        var reference = new Session(fp32.Clone());
        double sum = 0;
        long n = 0;
        foreach (var f in Held)
        {
            var y = (Tensor<float>)reference.Run(f).Outputs["logits"];
            var q = (Tensor<float>)sim.Run(f).Outputs["logits"];
            for (int i = 0; i < y.Length; i++) { double d = y.Data[i] - q.Data[i]; sum += d * d; }
            n += y.Length;
        }
        return sum / n;
    }

    private static QuantizationSimModel Calibrated(Graph g, IGraphPassResult? frozen = null)
    {
        var sim = new QuantizationSimModel(g, W4A8);
        frozen?.FreezeIn(sim);
        sim.ComputeEncodings(s => { foreach (var f in Calibration) s.Run(f); });
        return sim;
    }

    [Fact]
    public void AdaRound_OnTinyBert_RoundsEveryMatMulAndGemm_AndLowersEachLayersLoss()
    {
        var g = TinyBert.Build();
        // 1,000 iterations: with 200 the key projection (its input a quantized LayerNorm output under the transformer
        // placement) ended 12 % above nearest rounding; AdaRound has converged on every layer by 1,000 (the CLI default is 2,000).
        var r = AdaRound.Apply(g, Calibration, new AdaroundParameters { NumIterations = 1000, DefaultParamBw = 4, Config = QuantizerConfig.PerChannel });
        Assert.Equal(Linear, r.Layers.Select(l => l.Node).ToArray());
        Assert.Empty(r.Skipped);
        foreach (var l in r.Layers) Assert.True(l.LossAdaRound <= l.LossNearest * 1.0001, $"{l.Node}: {l.LossAdaRound} > nearest {l.LossNearest}");
        Assert.True(r.Layers.Sum(l => l.LossAdaRound) < r.Layers.Sum(l => l.LossNearest));
        Assert.Equal(Linear.Length, r.ParamEncodings!.ParamEncodings.Count(e => r.Layers.Any(l => l.Weight == e.Key)));
        Assert.NotSame(g.Initializers["ffn.up.weight"], r.Graph.Initializers["ffn.up.weight"]); // the input graph keeps its weights
        var sim = Calibrated(r.Graph, r);
        Assert.True(sim.Quantizers["ffn.up.weight"].IsFrozen);
        Assert.True(double.IsFinite(LogitsMse(g, sim)));
    }

    [Fact]
    public void AdaQuant_OnTinyBert_NeverEndsAboveNearestRoundingOnAnyLayer()
    {
        var g = TinyBert.Build();
        var r = AdaQuant.Apply(g, Calibration, new AdaQuantParameters { NumIterations = 60, DefaultParamBw = 4, Config = QuantizerConfig.PerChannel, BatchSize = 16 });
        Assert.Equal(Linear, r.Layers.Select(l => l.Node).ToArray());
        Assert.Equal(24, r.Samples);
        foreach (var l in r.Layers) Assert.True(l.MseAfter <= l.MseBefore * 1.0001, $"{l.Node}: {l.MseAfter} > {l.MseBefore}");
        Assert.Contains(r.Layers, l => !l.Reverted && l.MseAfter < l.MseBefore);
        Assert.True(double.IsFinite(LogitsMse(g, Calibrated(r.Graph, r))));
    }

    [Fact]
    public void SequentialMse_OnTinyBertSim_ChoosesRangesNoWorseThanFullRange()
    {
        var g = TinyBert.Build();
        var sim = new QuantizationSimModel(g, W4A8);
        var report = SequentialMse.Apply(sim, Calibration, new SeqMseParameters { NumSamples = 16, NumCandidates = 8 });
        Assert.Equal(Linear, report.Layers.Select(l => l.Node).ToArray());
        Assert.Equal(16, report.Samples);
        foreach (var l in report.Layers) Assert.True(l.LossChosen <= l.LossFullRange * 1.0001, $"{l.Node}: {l.LossChosen} > {l.LossFullRange}");
        sim.ComputeEncodings(s => { foreach (var f in Calibration) s.Run(f); });
        Assert.True(sim.Quantizers["attention.query.weight"].IsFrozen);
        Assert.True(double.IsFinite(LogitsMse(g, sim)));
    }

    [Fact]
    public void AutoQuant_OnTinyBert_WithALabelFreeScore_KeepsTheBestStep()
    {
        var g = TinyBert.Build();
        var result = AutoQuant.Run(g, W4A8, Calibration, s => -SessionMse(g, s), allowedAccuracyDrop: 0,
            new AutoQuantOptions { Adaround = new AdaroundParameters { NumIterations = 100 } });
        Assert.Equal(["fp32", "batchnorm_folding", "cross_layer_equalization", "adaround"], result.Steps.Select(s => s.Name).ToArray());
        Assert.Equal(result.Steps.Skip(1).Max(s => s.Score), result.BestStep.Score);
        Assert.True(result.BestStep.Score >= result.Steps[1].Score);
    }

    private static double SessionMse(Graph fp32, Session s)
    {
        var reference = new Session(fp32.Clone());
        double sum = 0;
        foreach (var f in Held)
        {
            var y = (Tensor<float>)reference.Run(f).Outputs["logits"];
            var q = (Tensor<float>)s.Run(f).Outputs["logits"];
            for (int i = 0; i < y.Length; i++) sum += (y.Data[i] - q.Data[i]) * (double)(y.Data[i] - q.Data[i]);
        }
        return sum;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BiasCorrection_OnTinyBert_CorrectsTheGemmsWithoutIncreasingAnyShift(bool analytical)
    {
        var g = TinyBert.Build();
        var before = g.Initializers["classifier.bias"];
        var r = BiasCorrection.Apply(g, W4A8, Calibration, samples: 24, new BiasCorrectionOptions { PerformOnlyEmpirical = !analytical },
            foldedBatchNorms: analytical ? new Dictionary<string, QuantSharp.Quantization.Preparation.BatchNormParameters>() : null);
        Assert.Same(before, g.Initializers["classifier.bias"]); // a graph pass: the input keeps its biases
        Assert.Equal(["pooler", "classifier"], r.Report.Layers.Select(l => l.Layer).ToArray());
        // No batch norm precedes a transformer's layers, so even the analytical mode measures them.
        Assert.All(r.Report.Layers, l => Assert.Equal(BiasCorrectionKind.Empirical, l.Kind));
        Assert.All(r.Report.Layers, l => Assert.True(l.MeanAbsShiftAfter <= l.MeanAbsShiftBefore, $"{l.Layer}: {l.MeanAbsShiftBefore} → {l.MeanAbsShiftAfter}"));
        Assert.Contains(r.Report.Layers, l => !l.Refused && l.MeanAbsShiftAfter < l.MeanAbsShiftBefore);
    }

    [Fact]
    public void QuantAnalyzer_OnTinyBert_ScoresEveryLayerFromNamedFeeds()
    {
        var g = TinyBert.Build();
        var reference = new Session(g.Clone());
        var evaluator = AnalysisEvaluator.OutputSqnr(Held, "logits", f => (Tensor<float>)reference.Run(f).Outputs["logits"]);
        var analysis = QuantAnalyzer.FromModel(g, W4A8, evaluator, Calibration, new QuantAnalyzerOptions { Histograms = false }).Analyze();
        Assert.Equal(24, analysis.Samples); // the samples analysed are the calibration feeds
        Assert.True(double.IsPositiveInfinity(analysis.Sensitivity.Fp32.OutputSqnrDb));
        Assert.True(analysis.Sensitivity.Quantized.OutputSqnrDb is > 0 and < 100);
        foreach (var layer in Linear) Assert.Contains(analysis.PerLayer, l => l.Layer == layer);
    }

    [Fact]
    public void Layerwise_CapturesAMatMulsInputAsOneRowPerToken_FromTheFeeds()
    {
        var lw = Layerwise.Create("test", TinyBert.Build(), Calibration, samples: 12);
        Assert.Equal(12, lw.Samples);
        var target = lw.Targets().Single(t => t.Node.Name == "ffn.down.matmul");
        var x = lw.Capture(new Session(lw.Work.Clone()), target.Node.Inputs[0], target);
        Assert.Equal([12 * Sequence, TinyBert.Intermediate], x.Shape);
    }

    [Fact]
    public void Layerwise_CapturesABigBatchInSmallRuns_WithTheSameValues()
    {
        var whole = TinyBert.Feeds(3 * Layerwise.CaptureBatch + 1, Sequence, seed: 5);
        var big = Layerwise.Create("test", TinyBert.Build(), [whole], samples: int.MaxValue);
        var target = big.Targets().Single(t => t.Node.Name == "attention.output.matmul");
        var session = new Session(big.Work.Clone());
        var x = big.Capture(session, target.Node.Inputs[0], target);
        Assert.Equal((3 * Layerwise.CaptureBatch + 1) * Sequence, x.Dims[0]);
        var one = (Tensor<float>)session.Run(whole, new RunOptions { Capture = [target.Node.Inputs[0]] }).Captured[target.Node.Inputs[0]];
        Assert.Equal(one.Length, x.Length);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(one.Data[i] - x.Data[i]) <= 1e-5f * (1 + Math.Abs(one.Data[i])), $"element {i}: {one.Data[i]} vs {x.Data[i]}");
    }

    [Fact]
    public void Techniques_RefuseFeedsThatMissAnInput_NamingIt()
    {
        var g = TinyBert.Build();
        var partial = Calibration.Select(f => (IReadOnlyDictionary<string, Tensor>)f.Where(kv => kv.Key != "token_type_ids").ToDictionary()).ToList();
        var e = Assert.Throws<ArgumentException>(() => AdaRound.Apply(g, partial, new AdaroundParameters { NumIterations = 1 }));
        Assert.Contains("token_type_ids", e.Message);
        e = Assert.Throws<ArgumentException>(() => AdaRound.ApplyAdaround(g, [new Tensor<float>(1, 4)], new AdaroundParameters(), Path.GetTempPath(), "x"));
        Assert.Contains("3 (input_ids, attention_mask, token_type_ids)", e.Message);
    }

    [Fact]
    public void PtqPipeline_RunsTheRecipeInOrder_AndItsSettingsRoundTripThroughJson()
    {
        var g = TinyBert.Build();
        var settings = new PtqSettings
        {
            BiasCorrection = true, BiasCorrectionSamples = 16, AdaRoundIterations = 50, SeqMse = true, SeqMseSamples = 8,
            Order = ["adaround", "bias_correction", "fast_finetune"], ExcludeNodes = ["classifier"],
        };
        var keys = new List<string>();
        var r = PtqPipeline.Run(g, W4A8, Calibration, settings, new PtqHooks { Step = (key, _, work) => { keys.Add(key); work(); } });
        Assert.Equal(["prepare", "adaround", "bias_correction", "seq_mse", "calibration"], r.Steps.ToArray());
        Assert.Equal(settings.Plan(), r.Steps);
        Assert.Equal(["prepare", "adaround", "bias_correction", "seq_mse"], keys.ToArray());
        Assert.NotNull(r.AdaRound);
        Assert.NotNull(r.BiasCorrection);
        // AdaRound froze every weight it rounded; sequential MSE leaves frozen encodings alone, and the excluded classifier has none.
        Assert.Equal(Linear.Length, r.SeqMse!.Skipped.Count);
        Assert.All(r.SeqMse.Skipped.Where(s => !s.StartsWith("classifier:")), s => Assert.Contains("frozen", s));
        Assert.Contains("classifier: the weight has no enabled integer quantizer", r.SeqMse.Skipped);
        Assert.True(r.Sim.Quantizers["attention.query.weight"].IsFrozen);
        Assert.Contains("classifier", r.Sim.ExcludedLayers);
        Assert.True(r.Calibration.Calibrated.Count > 0);

        var json = JsonDocument.Parse(settings.ToJson().ToJsonString()).RootElement;
        Assert.Equal(settings with { }, PtqSettings.FromJson(json) with
        {
            Order = settings.Order, ExcludeNodes = settings.ExcludeNodes, SmoothQuantAlphaGrid = settings.SmoothQuantAlphaGrid, SmoothQuantOpTypes = settings.SmoothQuantOpTypes,
        });
        var back = PtqSettings.FromJson(json);
        Assert.Equal(settings.Order, back.Order);
        Assert.Equal(settings.ExcludeNodes, back.ExcludeNodes);
        Assert.Equal(settings.SmoothQuantAlphaGrid, back.SmoothQuantAlphaGrid);
        Assert.Equal(settings.SmoothQuantOpTypes, back.SmoothQuantOpTypes);
        Assert.Equal(settings.Plan(), back.Plan());
    }

    [Fact]
    public void PtqSettings_RefuseAnOrderThatIsNotEachPassOnce()
    {
        var e = Assert.Throws<ArgumentException>(() => new PtqSettings { Order = ["adaround", "adaround", "bias_correction"] }.Validate());
        Assert.Contains("Order", e.Message);
        Assert.Throws<ArgumentException>(() => PtqPipeline.Run(TinyBert.Build(), W4A8, Calibration, new PtqSettings { AutoQuant = true }));
    }

    [Fact]
    public void PtqSettings_FromJson_NamesTheKeyOfAMalformedValue_AndDefaultsMissingKeys()
    {
        var e = Assert.Throws<FormatException>(() => PtqSettings.FromJson(JsonDocument.Parse("""{"adaround_iterations": "many"}""").RootElement));
        Assert.Contains("adaround_iterations", e.Message);
        Assert.Equal(new PtqSettings().Plan(), PtqSettings.FromJson(JsonDocument.Parse("{}").RootElement).Plan());
    }
}
