using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Analysis;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Analysis;

public sealed class QuantAnalyzerTests
{
    private static readonly Lazy<(QuantAnalyzer Analyzer, QuantAnalysis Result)> Shared = new(() =>
    {
        var analyzer = AnalyzerTestModels.Analyzer();
        return (analyzer, analyzer.Analyze());
    });

    [Fact]
    public void Layers_AreTheOpsOwningEnabledQuantizers_EachQuantizerOwnedOnce()
    {
        var analyzer = AnalyzerTestModels.Analyzer();
        var layers = analyzer.Layers;
        Assert.Contains(layers, l => l.Name == "conv1" && l.ParamQuantizers.Contains("conv1.weight"));
        Assert.Contains(layers, l => l.Name == "conv2" && l.ParamQuantizers.Contains("conv2.weight"));
        Assert.Contains(layers, l => l.Name == "fc" && l.OpType == "Gemm" && l.ParamQuantizers.Contains("fc.weight"));
        var owned = layers.SelectMany(l => l.Quantizers).ToList();
        Assert.Equal(owned.Count, owned.Distinct().Count());
        var enabled = analyzer.Sim.Quantizers.Values.Where(q => q.Enabled).Select(q => q.Name).Order().ToList();
        Assert.Equal(enabled, owned.Order().ToList());
        // Graph order: conv1 before conv2 before fc.
        var names = layers.Select(l => l.Name).ToList();
        Assert.True(names.IndexOf("conv1") < names.IndexOf("conv2") && names.IndexOf("conv2") < names.IndexOf("fc"));
    }

    [Fact]
    public void BadlyQuantizableWeights_MakeTheirLayerTheMostSensitive()
    {
        var a = Shared.Value.Result;
        var worst = a.PerLayer.MinBy(l => l.OnlyThisQuantized.Score)!;
        Assert.Equal("conv2", worst.Layer);
        Assert.Equal("conv2", a.PerLayer.MaxBy(l => l.OnlyThisFloat.Score)!.Layer);
        Assert.Equal("conv2", a.PerLayer.MinBy(l => l.OnlyThisQuantized.OutputSqnrDb)!.Layer);
        // The weights are the problem, not the activations.
        Assert.True(a.Sensitivity.WeightsOnly.Score < a.Sensitivity.ActivationsOnly.Score - 10,
            $"weights-only {a.Sensitivity.WeightsOnly.Score} dB vs activations-only {a.Sensitivity.ActivationsOnly.Score} dB");
        Assert.True(worst.OnlyThisQuantized.Score < 10, $"conv2 alone quantized: {worst.OnlyThisQuantized.Score} dB");
        Assert.True(a.Sensitivity.ActivationsOnly.Score > 25, $"activations only: {a.Sensitivity.ActivationsOnly.Score} dB");
    }

    [Fact]
    public void Fp32Configuration_MatchesTheFloatModel_AndQuantizedMatchesTheSim()
    {
        var (analyzer, a) = Shared.Value;
        // The FP32 graph and the all-disabled sim compute the same thing.
        Assert.True(a.Sensitivity.Fp32.Score > 100, $"FP32 configuration vs FP32 graph: {a.Sensitivity.Fp32.Score} dB");
        Assert.True(double.IsPositiveInfinity(a.Sensitivity.Fp32.OutputSqnrDb));
        // Fully quantized: the evaluator's SQNR and the analyzer's output SQNR are measured on the same inputs.
        Assert.Equal(a.Sensitivity.Quantized.Score, a.Sensitivity.Quantized.OutputSqnrDb, 3);
        var direct = ModelEvaluation.Compare("scores", new Session(AnalyzerTestModels.Model()).Run(AnalyzerTestModels.Inputs()[0]),
            analyzer.Sim.Run(AnalyzerTestModels.Inputs()[0]));
        Assert.True(direct.SqnrDb < 10, $"the sim as left by the analyzer is the quantized model again: {direct.SqnrDb} dB");
    }

    [Fact]
    public void Analyze_LeavesTheSimInItsCalibratedState_EvenWhenTheEvaluatorThrows()
    {
        var analyzer = AnalyzerTestModels.Analyzer();
        var before = analyzer.Sim.Quantizers.Values.ToDictionary(q => q.Name, q => q.Enabled);
        analyzer.Analyze();
        Assert.Equal(before, analyzer.Sim.Quantizers.Values.ToDictionary(q => q.Name, q => q.Enabled));

        int calls = 0;
        var throwing = new QuantAnalyzer(analyzer.Sim, new AnalysisEvaluator("x", "", _ => ++calls == 2 ? throw new InvalidOperationException("boom") : 1),
            AnalyzerTestModels.Feeds(AnalyzerTestModels.Inputs(1)));
        Assert.Throws<InvalidOperationException>(() => throwing.Analyze());
        Assert.Equal(before, analyzer.Sim.Quantizers.Values.ToDictionary(q => q.Name, q => q.Enabled));
    }

    [Fact]
    public void Histograms_OnePerQuantizer_CountEveryValue_AndCarryTheEncodingRange()
    {
        var (analyzer, a) = Shared.Value;
        var owned = a.Layers.SelectMany(l => l.Quantizers).Order().ToList();
        Assert.Equal(owned, a.Histograms.Select(h => h.Quantizer).Order().ToList());
        var w2 = a.Histograms.Single(h => h.Quantizer == "conv2.weight");
        Assert.Equal(QuantizerRole.Param, w2.Role);
        Assert.Equal(4 * 4 * 9, w2.Counts.Sum());
        Assert.Equal(50, w2.Upper, 5);
        Assert.Equal(64, w2.Counts.Count);
        var enc = analyzer.Sim.Quantizer("conv2.weight").Encoding!;
        Assert.Equal(enc.Min, w2.EncodingMin);
        Assert.Equal(enc.Max, w2.EncodingMax);
        // Activations: every element of every batch, seen in FP32.
        int samples = AnalyzerTestModels.Inputs().Sum(t => t.Dims[0]);
        foreach (var h in a.Histograms.Where(h => h.Role == QuantizerRole.Activation))
        {
            Assert.True(h.Counts.Sum() % samples == 0, $"{h.Quantizer}: {h.Counts.Sum()} values for {samples} samples");
            Assert.NotNull(h.EncodingMin);
            Assert.True(h.Lower <= h.Upper);
        }
        var range = a.Ranges.Single(r => r.Quantizer == "conv2.weight");
        Assert.Equal(50, range.ObservedMax!.Value, 5);
        Assert.Equal(1, range.Channels);
        Assert.All(a.Ranges.Where(r => r.Role == QuantizerRole.Activation), r => Assert.NotNull(r.ObservedMin));
    }

    [Fact]
    public void PerLayerMse_OfTheLastLayer_IsTheMseOfTheModelOutput()
    {
        var (analyzer, a) = Shared.Value;
        var fc = a.Mse.Single(m => m.Layer == "fc");
        var fp32 = new Session(AnalyzerTestModels.Model());
        double sum = 0;
        long count = 0;
        foreach (var x in AnalyzerTestModels.Inputs())
        {
            var r = fp32.Run(x);
            var q = analyzer.Sim.Run(x);
            for (int i = 0; i < r.Length; i++) { double d = r.Data[i] - q.Data[i]; sum += d * d; }
            count += r.Length;
        }
        Assert.Equal(sum / count, fc.Mse, 1e-9 + 1e-6 * fc.Mse);
        var conv1 = a.Mse.Single(m => m.Layer == "relu1");
        Assert.True(conv1.Mse < a.Mse.Single(m => m.Layer == "relu2").Mse, "the error grows at conv2");
    }

    [Fact]
    public void Top1Evaluator_ScoresPercent_AgainstLabels()
    {
        var model = AnalyzerTestModels.Model();
        var inputs = AnalyzerTestModels.Inputs(2, 5);
        var fp32 = new Session(model);
        var batches = inputs.Select(x =>
        {
            var s = fp32.Run(x);
            var labels = Enumerable.Range(0, x.Dims[0]).Select(i => Enumerable.Range(0, 5).MaxBy(c => s[i, c])).ToArray();
            return (x, labels);
        }).ToList();
        var analyzer = QuantAnalyzer.FromModel(model, null, AnalysisEvaluator.Top1(batches), AnalyzerTestModels.Feeds(inputs),
            new QuantAnalyzerOptions { PerLayer = false, Histograms = false, Mse = false });
        var a = analyzer.Analyze();
        Assert.Equal(100, a.Sensitivity.Fp32.Score);
        Assert.Equal("%", a.ScoreUnit);
        Assert.Empty(a.PerLayer);
        Assert.Empty(a.Histograms);
        Assert.Empty(a.Mse);
    }

    [Fact]
    public void Progress_ReportsEveryStep()
    {
        var seen = new List<AnalysisProgress>();
        var analyzer = AnalyzerTestModels.Analyzer(options: new QuantAnalyzerOptions { Progress = seen.Add });
        analyzer.Analyze();
        Assert.Equal(new AnalysisProgress("sensitivity", 4, 4), seen.Last(p => p.Stage == "sensitivity"));
        Assert.Equal(2 * analyzer.Layers.Count, seen.Count(p => p.Stage == "per-layer"));
        Assert.Equal(4, seen.Count(p => p.Stage == "histograms"));
        Assert.Equal(4, seen.Count(p => p.Stage == "mse"));
    }

    [Fact]
    public void Constructor_RejectsNoDataAndUncalibratedSims()
    {
        var sim = new QuantizationSimModel(AnalyzerTestModels.Model());
        var evaluator = new AnalysisEvaluator("x", "", _ => 0);
        Assert.Throws<ArgumentException>(() => new QuantAnalyzer(sim, evaluator, []));
        var e = Assert.Throws<ArgumentException>(() => new QuantAnalyzer(sim, evaluator, AnalyzerTestModels.Feeds(AnalyzerTestModels.Inputs(1))));
        Assert.Contains("not calibrated", e.Message);
    }
}

public sealed class QuantAnalyzerPerChannelTests
{
    [Fact]
    public void PerChannelWeights_AreSummarizedByTheirExtremeChannels()
    {
        var model = AnalyzerTestModels.Model(outlier: false);
        var inputs = AnalyzerTestModels.Inputs(2);
        var analyzer = QuantAnalyzer.FromModel(model, new QuantSimOptions { Config = QuantSharp.Quantization.Config.QuantizerConfig.PerChannel },
            new AnalysisEvaluator("none", "", _ => 0), AnalyzerTestModels.Feeds(inputs),
            new QuantAnalyzerOptions { PerLayer = false, Mse = false });
        var a = analyzer.Analyze();
        var range = a.Ranges.Single(r => r.Quantizer == "conv2.weight");
        var e = analyzer.Sim.Quantizer("conv2.weight").Encoding!;
        Assert.Equal(4, range.Channels);
        Assert.Equal(e.Mins.Min(), range.EncodingMin);
        Assert.Equal(e.Maxs.Max(), range.EncodingMax);
        Assert.Equal(e.Scales.Max(), range.Scale);
        Assert.Equal(Enumerable.Range(0, 4).Min(c => e.Maxs[c] - e.Mins[c]), range.NarrowestChannelRange);
        Assert.Equal(Enumerable.Range(0, 4).Max(c => e.Maxs[c] - e.Mins[c]), range.WidestChannelRange);
        Assert.Null(a.Ranges.Single(r => r.Quantizer == "x").NarrowestChannelRange);
        var h = a.Histograms.Single(x => x.Quantizer == "conv2.weight");
        Assert.Equal(range.EncodingMin, h.EncodingMin);
        Assert.Equal(range.EncodingMax, h.EncodingMax);
    }
}
