using Microsoft.ML.OnnxRuntime;
using QuantSharp.Engine;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Config;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.MixedPrecision;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.MixedPrecision;

/// <summary>
/// AutoMixedPrecision on a model built so that one activation is badly served by 8 bits: its one outlier channel (×200)
/// stretches the grid, while the next MatMul reads only the small channels. Raising that one quantizer is the cure; the
/// others matter little.
/// </summary>
public sealed class AutoMixedPrecisionTests
{
    private static Graph OutlierModel()
    {
        var rng = new Random(21);
        var b = new GraphBuilder("outlier", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(8));
        var h = b.Relu(b.MatMul(x, b.Initializer("w1", Tensor.RandomUniform(rng, -0.5f, 0.5f, 8, 8)), "mm1"), "relu1");
        var gain = new Tensor<float>(8);
        for (int i = 0; i < 8; i++) gain.Data[i] = i == 0 ? 200f : 1f;
        var scaled = b.Mul(h, b.Initializer("gain", gain), "outlier");
        var w2 = Tensor.RandomUniform(rng, -0.5f, 0.5f, 8, 4);
        for (int j = 0; j < 4; j++) w2[0, j] = 0f;               // the outlier channel does not reach the output
        b.Output(b.MatMul(b.Relu(b.MatMul(scaled, b.Initializer("w2", w2), "mm2"), "relu2"), b.Initializer("w3", Tensor.RandomUniform(rng, -0.5f, 0.5f, 4, 4)), "mm3"), name: "y");
        return b.Build();
    }

    private static (QuantizationSimModel Sim, List<IReadOnlyDictionary<string, Tensor>> Batches) Calibrated()
    {
        var sim = new QuantizationSimModel(OutlierModel(), new QuantSimOptions { Config = QuantizerConfig.PerChannel });
        var rng = new Random(22);
        var batches = Enumerable.Range(0, 2).Select(_ => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["x"] = Tensor.RandomUniform(rng, -1, 1, 32, 8) }).ToList();
        sim.ComputeEncodings(s => { foreach (var f in batches) s.Run(f); });
        return (sim, batches);
    }

    private static string OutlierQuantizer(QuantizationSimModel sim) => sim.Model.Nodes.Single(n => n.Name == "outlier").Outputs[0];

    [Fact]
    public void Run_RaisesTheOutlierActivationFirst_AndReachesTheTarget()
    {
        var (sim, batches) = Calibrated();
        string outlier = sim.Quantizer(OutlierQuantizer(sim)).Name;
        var report = AutoMixedPrecision.Run(sim, batches, new AmpOptions { TargetSqnrDb = 12, MaxRaisedFraction = 0.5 });
        Assert.True(report.BaseSqnrDb < 8, $"the model should start far below the target, got {report.BaseSqnrDb:F1} dB");
        Assert.True(report.TargetMet, report.ToString());
        Assert.Equal(outlier, report.Raised[0].Quantizer);
        Assert.Equal(16, sim.Quantizer(outlier).Encoding!.BitWidth);
        Assert.True(report.FinalSqnrDb >= 12, report.ToString());
        // Each choice improved on the one before.
        for (int i = 1; i < report.Raised.Count; i++) Assert.True(report.Raised[i].SqnrAfterDb > report.Raised[i - 1].SqnrAfterDb);
        // Measured again from scratch, the sim gives the reported figure.
        var again = AutoMixedPrecision.Run(sim, batches, new AmpOptions { TargetSqnrDb = -100 });
        Assert.Equal(report.FinalSqnrDb, again.BaseSqnrDb, 6);
        Assert.Empty(again.Raised);
        Assert.Equal(1, again.Evaluations);
    }

    [Fact]
    public void Run_NeverRaisesMoreThanTheLimit_AndSaysTheTargetWasNotMet()
    {
        var (sim, batches) = Calibrated();
        int candidates = sim.ActivationQuantizers.Count(q => q.Enabled);
        var report = AutoMixedPrecision.Run(sim, batches, new AmpOptions { TargetSqnrDb = 300, MaxRaisedFraction = 0.2 });
        Assert.Equal(candidates, report.Candidates);
        Assert.Equal(Math.Max(1, (int)(0.2 * candidates)), report.MaxRaised);
        Assert.InRange(report.Raised.Count, 1, report.MaxRaised);
        Assert.False(report.TargetMet);
        Assert.Contains("not met", report.ToString());
        Assert.Equal(report.Raised.Count, sim.ActivationQuantizers.Count(q => q.Enabled && q.Encoding!.BitWidth == 16));
    }

    [Fact]
    public void Run_ToFloat_DisablesTheChosenQuantizer()
    {
        var (sim, batches) = Calibrated();
        var report = AutoMixedPrecision.Run(sim, batches, new AmpOptions { TargetSqnrDb = 12, MaxRaisedFraction = 0.5, RaisedBitWidth = 0 });
        Assert.True(report.TargetMet, report.ToString());
        Assert.All(report.Raised, c => Assert.False(sim.Quantizer(c.Quantizer).Enabled));
    }

    [Theory]
    [InlineData(0.0, 16)]
    [InlineData(1.5, 16)]
    [InlineData(0.1, 8)]
    public void Options_OutOfRange_AreRefusedByName(double fraction, int bits)
    {
        var (sim, batches) = Calibrated();
        var e = Assert.Throws<ArgumentException>(() => AutoMixedPrecision.Run(sim, batches, new AmpOptions { MaxRaisedFraction = fraction, RaisedBitWidth = bits }));
        Assert.StartsWith("AmpOptions.", e.Message);
        Assert.Throws<ArgumentException>(() => AutoMixedPrecision.Run(sim, [], new AmpOptions()));
    }

    /// <summary>The raised 16-bit quantizers export as int16/uint16 QDQ (opset 21) that ONNX Runtime runs like the sim.</summary>
    [Fact]
    [Trait("Category", OrtRunner.Category)]
    public void RaisedSim_QdqExport_RunsInOnnxRuntime_WithinOneStepOfTheSim()
    {
        var (sim, batches) = Calibrated();
        var report = AutoMixedPrecision.Run(sim, batches, new AmpOptions { TargetSqnrDb = 12, MaxRaisedFraction = 0.5 });
        Assert.NotEmpty(report.Raised);
        var qdq = sim.ToQdqGraph();
        Assert.True(qdq.Opsets[""] >= 21, $"16-bit Q/DQ needs opset 21, got {qdq.Opsets[""]}");
        var feeds = batches[0];
        var ours = (Tensor<float>)sim.Run(feeds).Outputs["y"];
        var ort = (Tensor<float>)OrtRunner.Run(qdq, feeds, GraphOptimizationLevel.ORT_DISABLE_ALL)["y"];
        double step = sim.Quantizer("y").Encoding!.Scale;
        for (int i = 0; i < ours.Length; i++)
            Assert.True(Math.Abs(ours.Data[i] - ort.Data[i]) <= step * 1.0001, $"y[{i}]: sim {ours.Data[i]} vs ORT {ort.Data[i]} (step {step})");
    }
}
