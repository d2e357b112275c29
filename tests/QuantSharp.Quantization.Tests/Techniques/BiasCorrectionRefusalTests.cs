using QuantSharp.Engine;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques;

namespace QuantSharp.Quantization.Tests.Techniques;

/// <summary>Bias correction measures every correction on the data and refuses one that increases the output shift.</summary>
public sealed class BiasCorrectionRefusalTests
{
    private static readonly QuantSimOptions W4A8 = new() { DefaultParamBw = 4, DefaultOutputBw = 8, QuantScheme = QuantScheme.PostTrainingTf };

    /// <summary>x [N, 2, 6, 6] → conv1 (1×1) → Relu → conv2 (3×3) → Relu → conv3 (1×1) → "y".</summary>
    private static Graph ThreeConvs()
    {
        var rng = new Random(21);
        var b = new GraphBuilder("three_convs", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(2), Dim.Fixed(6), Dim.Fixed(6));
        var h = b.Relu(b.ConvLayer(x, 2, 3, 1, rng, "conv1"), name: "relu1");
        h = b.Relu(b.ConvLayer(h, 3, 3, 3, rng, "conv2", padding: 1), name: "relu2");
        b.Output(b.ConvLayer(h, 3, 2, 1, rng, "conv3"), name: "y");
        return b.Build();
    }

    private static List<Tensor<float>> Batches() =>
        Enumerable.Range(0, 2).Select(i => Tensor.RandomUniform(new Random(30 + i), 0.5f, 1.5f, 4, 2, 6, 6)).ToList();

    [Fact]
    public void AnalyticalCorrection_FromStatisticsTheDataDoNotHave_IsRefused_TheBiasKept_AndTheNextLayerCorrectedOnTheRestoredModel()
    {
        var g = ThreeConvs();
        var original = g.Clone();
        // Statistics claiming conv1's outputs sit near 40: E[relu(x)] ≈ 40, far from the real ~1, so the analytical
        // correction of conv2 overshoots by (W_q − W)·40.
        var wrong = new Dictionary<string, BatchNormParameters>
        {
            ["conv1"] = new([1f, 1f, 1f], [40f, -40f, 40f], [0f, 0f, 0f], [1f, 1f, 1f], 1e-5f),
        };
        var report = BiasCorrection.CorrectBias(g, W4A8, Batches(), 8, 8, foldedBatchNorms: wrong);

        var conv2 = report.Layers.Single(l => l.Layer == "conv2");
        Assert.Equal(BiasCorrectionKind.Analytical, conv2.Kind);
        Assert.True(conv2.Refused, report.ToString());
        Assert.True(conv2.MeanAbsShiftAfter > conv2.MeanAbsShiftBefore);
        Assert.Equal(((Tensor<float>)original.Initializers["conv2.bias"]).Data, ((Tensor<float>)g.Initializers["conv2.bias"]).Data);
        Assert.Contains("conv2 (Conv, Analytical)", report.ToString());
        Assert.Contains("refused (the correction increased the shift), kept uncorrected", report.ToString());
        Assert.DoesNotContain(report.Corrected, l => l.Layer == "conv2");
        Assert.Contains(report.Refused, l => l.Layer == "conv2");

        // conv3 was measured again after conv2's refusal: its empirical correction holds on the model as it now is.
        var conv3 = report.Layers.Single(l => l.Layer == "conv3");
        Assert.False(conv3.Refused, report.ToString());
        Assert.True(conv3.MeanAbsShiftAfter <= conv3.MeanAbsShiftBefore, report.ToString());
        Assert.True(conv3.MeanAbsShiftAfter < 1e-5, report.ToString());
    }

    [Fact]
    public void EmpiricalCorrections_ThatReduceTheShift_AreKept()
    {
        var g = ThreeConvs();
        var original = g.Clone();
        var report = BiasCorrection.CorrectBias(g, W4A8, Batches(), 8, 8);
        Assert.All(report.Layers, l => Assert.False(l.Refused, report.ToString()));
        Assert.Equal(3, report.Corrected.Count());
        Assert.NotEqual(((Tensor<float>)original.Initializers["conv2.bias"]).Data, ((Tensor<float>)g.Initializers["conv2.bias"]).Data);
        Assert.DoesNotContain("refused", report.ToString());
    }

    [Fact]
    public void WithRefusalOff_TheWorseCorrectionIsApplied_AsAimetDoes()
    {
        var g = ThreeConvs();
        var original = g.Clone();
        var wrong = new Dictionary<string, BatchNormParameters> { ["conv1"] = new([1f, 1f, 1f], [40f, -40f, 40f], [0f, 0f, 0f], [1f, 1f, 1f], 1e-5f) };
        var report = BiasCorrection.CorrectBias(g, W4A8, Batches(), 8, 8, new BiasCorrectionOptions { RefuseIncreasedShift = false }, wrong);
        var conv2 = report.Layers.Single(l => l.Layer == "conv2");
        Assert.False(conv2.Refused);
        Assert.True(conv2.MeanAbsShiftAfter > conv2.MeanAbsShiftBefore);
        Assert.NotEqual(((Tensor<float>)original.Initializers["conv2.bias"]).Data, ((Tensor<float>)g.Initializers["conv2.bias"]).Data);
    }
}
