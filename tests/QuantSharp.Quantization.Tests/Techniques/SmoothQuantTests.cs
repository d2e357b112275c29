using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Analysis;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Tests.Shared;

namespace QuantSharp.Quantization.Tests.Techniques;

public sealed class SmoothQuantTests
{
    /// <summary>x[·, 8] whose channel 0 is 100× the others, feeding a Linear: per-tensor 8-bit x wastes its grid on that channel.</summary>
    private static Graph OutlierLinear()
    {
        var rng = new Random(31);
        var b = new GraphBuilder("outlier_linear", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(8));
        var gain = new Tensor<float>(8);
        for (int i = 0; i < 8; i++) gain.Data[i] = i == 0 ? 100f : 1f;
        var h = b.Mul(x, b.Initializer("gain", gain), "stretch");
        // Row 0 of the weight is small, so the small channels carry as much of y as the outlier does (as in transformers,
        // where the outlier channels' weights are small): y needs the small channels' values, which the stretched grid loses.
        var w = Tensor.RandomUniform(rng, -0.5f, 0.5f, 8, 4);
        for (int j = 0; j < 4; j++) w[0, j] *= 0.01f;
        b.Output(b.MatMul(h, b.Initializer("w", w), "linear"), name: "y");
        return b.Build();
    }

    private static List<IReadOnlyDictionary<string, Tensor>> Batches(int seed) =>
        [new Dictionary<string, Tensor> { ["x"] = Tensor.RandomUniform(new Random(seed), -1, 1, 64, 8) }];

    /// <summary>
    /// W8A8 output SQNR against the float graph with TensorRT's placement: only the MatMul's input (the smoothed value) and
    /// its weight are quantized. Under output quantization the unsmoothed producer output would be quantized too, outliers
    /// and all, and the explicit Mul could not help (see <see cref="SmoothQuant"/>'s remarks).
    /// </summary>
    private static double W8A8Sqnr(Graph g, Graph reference)
    {
        var sim = new QuantizationSimModel(g, new QuantSimOptions { Config = QuantizerConfig.Named("tensorrt") });
        var calibration = Batches(1);
        sim.ComputeEncodings(s => { foreach (var f in calibration) s.Run(f); });
        var sqnr = new OutputSqnr();
        foreach (var f in Batches(2))
            sqnr.Add(new Dictionary<string, Tensor<float>> { ["y"] = (Tensor<float>)new Session(reference).Run(f).Outputs["y"] },
                new Dictionary<string, Tensor<float>> { ["y"] = (Tensor<float>)sim.Run(f).Outputs["y"] });
        return sqnr.WorstDb;
    }

    [Fact]
    public void Apply_OutlierChannel_MigratesIntoTheWeights_AndW8A8Improves()
    {
        var g = OutlierLinear();
        var r = SmoothQuant.Apply(g, Batches(1), alpha: 0.5);
        var group = Assert.Single(r.Groups);
        Assert.Equal(["linear"], group.Layers);
        Assert.True(group.OutlierRatioAfter < group.OutlierRatioBefore / 5, $"{group.OutlierRatioBefore} → {group.OutlierRatioAfter}");
        double before = W8A8Sqnr(g, g), after = W8A8Sqnr(r.Graph, g);
        Assert.True(after > before + 3, $"W8A8 SQNR {before:F1} dB → {after:F1} dB");
        Assert.Null(r.ParamEncodings);
        Assert.NotSame(g.Initializers["w"], r.Graph.Initializers["w"]); // the input graph keeps its weights
    }

    [Fact]
    public void Apply_TinyBert_KeepsTheFloatFunction_AndGivesQkvOneSharedScale()
    {
        var g = TinyBert.Build();
        var feeds = TinyBert.Batches(2, 4, 10, seed: 8);
        var r = SmoothQuant.Apply(g, feeds, alpha: 0.5);
        // Q, K and V read the same LayerNorm output: one group, one Mul.
        Assert.Contains(r.Groups, grp => grp.Layers.Count == 3);
        Assert.Equal(r.Groups.Count, r.Graph.Nodes.Count(n => n.Name.EndsWith("_smoothquant", StringComparison.Ordinal)));
        var original = new Session(g);
        var smoothed = new Session(r.Graph);
        foreach (var f in feeds)
        {
            var a = (Tensor<float>)original.Run(f).Outputs["logits"];
            var b = (Tensor<float>)smoothed.Run(f).Outputs["logits"];
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a.Data[i] - b.Data[i]) <= 1e-4f * (1 + Math.Abs(a.Data[i])), $"logits[{i}]: {a.Data[i]} vs {b.Data[i]}");
        }
        Assert.DoesNotContain(g.Nodes, n => n.Name.EndsWith("_smoothquant", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Apply_AlphaOutsideZeroToOne_IsRefusedByName(double alpha)
    {
        var e = Assert.Throws<ArgumentException>(() => SmoothQuant.Apply(OutlierLinear(), Batches(1), alpha));
        Assert.StartsWith("SmoothQuant: alpha expected a migration strength in [0, 1]", e.Message);
    }

    [Fact]
    public void Pipeline_RunsSmoothQuantAfterPreparation_AndRecordsAlpha()
    {
        var settings = new PtqSettings { SmoothQuantAlpha = 0.6 };
        Assert.Equal(["prepare", "smoothquant", "calibration"], settings.Plan());
        var r = PtqPipeline.Run(OutlierLinear(), new QuantSimOptions { Config = QuantizerConfig.PerChannel }, Batches(1), settings);
        Assert.NotNull(r.SmoothQuant);
        Assert.Equal(0.6, r.SmoothQuant!.Alpha);
        var json = System.Text.Json.JsonDocument.Parse(settings.ToJson().ToJsonString()).RootElement;
        Assert.Equal(0.6, PtqSettings.FromJson(json).SmoothQuantAlpha);
        Assert.Null(PtqSettings.FromJson(System.Text.Json.JsonDocument.Parse(new PtqSettings().ToJson().ToJsonString()).RootElement).SmoothQuantAlpha);
    }

    /// <summary>
    /// Under AIMET-style output quantization (per_channel preset) the producer's output ("h") is quantized too; moving its
    /// quantizer after the division is what lets smoothing help there.
    /// </summary>
    [Fact]
    public void QuantizeAfterSmoothing_UnderOutputQuantization_DisablesTheProducersQuantizer_AndW8A8Improves()
    {
        var g = OutlierLinear();
        double Sqnr(Graph graph, Action<QuantizationSimModel> prepare)
        {
            var sim = new QuantizationSimModel(graph, new QuantSimOptions { Config = QuantizerConfig.PerChannel });
            prepare(sim);
            sim.ComputeEncodings(s => { foreach (var f in Batches(1)) s.Run(f); });
            var sqnr = new OutputSqnr();
            foreach (var f in Batches(2))
                sqnr.Add(new Dictionary<string, Tensor<float>> { ["y"] = (Tensor<float>)new Session(g).Run(f).Outputs["y"] },
                    new Dictionary<string, Tensor<float>> { ["y"] = (Tensor<float>)sim.Run(f).Outputs["y"] });
            return sqnr.WorstDb;
        }
        var r = SmoothQuant.Apply(g, Batches(1), alpha: 0.8);
        string h = Assert.Single(r.Groups).Input;
        string scaled = r.Graph.Nodes.Single(n => n.Name.EndsWith("_smoothquant", StringComparison.Ordinal)).Outputs[0];
        List<string> moved = [];
        double before = Sqnr(g, _ => { }), kept = Sqnr(r.Graph, _ => { }), after = Sqnr(r.Graph, sim =>
        {
            moved = [.. r.QuantizeAfterSmoothing(sim)];
            Assert.False(sim.Quantizer(h).Enabled);
            Assert.True(sim.Quantizer(scaled).Enabled);
            Assert.False(sim.Quantizer(r.Groups[0].InverseScale).Enabled); // 1/s stays exact
        });
        Assert.Equal([h], moved);
        Assert.True(after > before + 3, $"W8A8 SQNR {before:F1} dB unsmoothed → {after:F1} dB smoothed with the quantizer moved");
        Assert.True(after > kept + 3, $"moving the quantizer: {kept:F1} dB (both quantized) → {after:F1} dB");
    }

    [Fact]
    public void Apply_MinOutlierRatioAndOpTypes_LeaveOtherGroupsAlone()
    {
        var g = OutlierLinear();
        var ratio = Assert.Single(SmoothQuant.Apply(g, Batches(1)).Groups).OutlierRatioBefore;
        Assert.Single(SmoothQuant.Apply(g, Batches(1), 0.8, minOutlierRatio: ratio * 0.9).Groups);
        var none = SmoothQuant.Apply(g, Batches(1), 0.8, minOutlierRatio: ratio * 1.1);
        Assert.Empty(none.Groups);
        Assert.DoesNotContain(none.Graph.Nodes, n => n.OpType == "Mul" && n.Name.EndsWith("_smoothquant", StringComparison.Ordinal));
        Assert.Empty(SmoothQuant.Apply(g, Batches(1), 0.8, opTypes: ["Gemm"]).Groups);
        Assert.Throws<ArgumentException>(() => SmoothQuant.Apply(g, Batches(1), 0.8, minOutlierRatio: -1));
    }

    [Fact]
    public void Pipeline_MovesTheQuantizer_AndRecordsRatioAndOpTypes()
    {
        var settings = new PtqSettings { SmoothQuantAlpha = 0.8, SmoothQuantMinOutlierRatio = 3, SmoothQuantOpTypes = ["MatMul"] };
        var r = PtqPipeline.Run(OutlierLinear(), new QuantSimOptions { Config = QuantizerConfig.PerChannel }, Batches(1), settings);
        string h = Assert.Single(r.SmoothQuant!.Groups).Input;
        Assert.False(r.Sim.Quantizer(h).Enabled);
        var back = PtqSettings.FromJson(System.Text.Json.JsonDocument.Parse(settings.ToJson().ToJsonString()).RootElement);
        Assert.Equal(3, back.SmoothQuantMinOutlierRatio);
        Assert.Equal(["MatMul"], back.SmoothQuantOpTypes);
        Assert.Throws<ArgumentException>(() => PtqPipeline.Run(OutlierLinear(), new QuantSimOptions(), Batches(1), settings with { SmoothQuantOpTypes = ["Conv"] }));
    }

    [Fact]
    public void Apply_AlphaGrid_PicksEachGroupsLeastQuantizedError_AndNeverWorseThanNone()
    {
        var g = OutlierLinear();
        var options = new SmoothQuantOptions { Alpha = 0.5, AlphaGrid = [0.2, 0.8, 1.0] };
        var r = SmoothQuant.Apply(g, Batches(1), options);
        Assert.True(r.Searched);
        var group = Assert.Single(r.Groups);
        Assert.Contains(group.Alpha, new[] { 0.2, 0.5, 0.8, 1.0 });
        Assert.True(group.ErrorSmoothed < group.ErrorUnsmoothed, $"{group.ErrorUnsmoothed} → {group.ErrorSmoothed}");
        // The chosen α gives the same graph as asking for it alone.
        var fixedAlpha = SmoothQuant.Apply(g, Batches(1), group.Alpha);
        Assert.Equal(((Tensor<float>)fixedAlpha.Graph.Initializers[group.InverseScale]).Data, ((Tensor<float>)r.Graph.Initializers[group.InverseScale]).Data);
        Assert.Contains("α searched per group", r.ToString());
        var e = Assert.Throws<ArgumentException>(() => SmoothQuant.Apply(g, Batches(1), options with { AlphaGrid = [1.5] }));
        Assert.StartsWith("SmoothQuant: alpha expected a migration strength in [0, 1], got 1.5", e.Message);
    }
}
