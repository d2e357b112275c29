using QuantSharp.Engine;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Quantization.Tests.Preparation;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Quantization.Tests.Zoo;

public class ImbalanceTests
{
    private static Dictionary<string, Tensor> Feed(int seed) =>
        new() { ["image"] = Tensor.RandomUniform(new Random(seed), 0f, 1f, 3, 1, 28, 28) };

    [Fact]
    public void LogUniformScales_LieInTheSpread_AndCoverBothSides()
    {
        var s = Imbalance.LogUniformScales(2000, new Random(1), 32f);
        Assert.All(s, v => Assert.InRange(v, 1f / 32f, 32f));
        Assert.True(s.Min() < 1f / 16f && s.Max() > 16f, $"min {s.Min()}, max {s.Max()}");
        // log s is uniform on [−ln 32, ln 32]: mean ≈ 0.
        Assert.InRange(s.Average(v => Math.Log(v)), -0.15, 0.15);
    }

    [Fact]
    public void Apply_ResNetSmallPairs_PreservesOutputs_AndSpreadsTheNextConvsInputRanges()
    {
        var g = ResNetSmall.Build(2);
        var before = g.Clone();
        var rng = new Random(3);
        foreach (var (p, c) in ResNetSmall.ImbalancePairs())
        {
            var s = Imbalance.Apply(g, p, c, rng);
            var w = (Tensor<float>)g.Initializers[$"{c}.weight"];
            var w0 = (Tensor<float>)before.Initializers[$"{c}.weight"];
            var r = CrossLayerScaling.InputChannelRanges(w.AsSpan(), w.Dims, WeightLayout.Conv);
            var r0 = CrossLayerScaling.InputChannelRanges(w0.AsSpan(), w0.Dims, WeightLayout.Conv);
            for (int i = 0; i < r.Length; i++) Assert.Equal(r0[i] / s[i], r[i], r[i] * 1e-5f);
            Assert.Equal(s, ((Tensor<float>)g.Initializers[$"{p}.weight"]).Data); // γ started at 1
        }
        PreparationTestGraphs.AssertSameOutputs(before, g, Feed(1), 1e-4f);
    }

    [Fact]
    public void Apply_MobileNetV2SmallAfterRelu6Replacement_PreservesOutputs_AndPerTensorRangesGrow()
    {
        var g = MobileNetV2Small.Build(2);
        int replaced = Imbalance.ReplaceRelu6WithRelu(g);
        Assert.Equal(2 + 2 * MobileNetV2Small.Blocks.Count, replaced);
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "Clip");
        Assert.DoesNotContain(g.Initializers.Keys, k => k.Contains("relu_m", StringComparison.Ordinal)); // the clip bounds went too
        var before = g.Clone();
        var rng = new Random(4);
        foreach (var (p, c) in MobileNetV2Small.DepthwisePairs()) Imbalance.Apply(g, p, c, rng);
        PreparationTestGraphs.AssertSameOutputs(before, g, Feed(2), 1e-4f);
        // Folded, the depthwise weights now have per-channel ranges spread over orders of magnitude.
        ModelPreparer.FoldAllBatchNorms(g);
        var dw = (Tensor<float>)g.Initializers["b0_dw.weight"];
        var ranges = CrossLayerScaling.OutputChannelRanges(dw.AsSpan(), dw.Dims, WeightLayout.Conv, dw.Dims[0]);
        Assert.True(ranges.Max() / ranges.Min() > 100, $"depthwise range ratio {ranges.Max() / ranges.Min()}");
    }

    [Fact]
    public void Apply_ThroughAClip_Throws_BecauseReLU6IsNotHomogeneous()
    {
        var g = MobileNetV2Small.Build(1);
        var ex = Assert.Throws<ArgumentException>(() => Imbalance.Apply(g, "b0_expand_bn", "b0_dw", new Random(1)));
        Assert.Contains("not a Relu", ex.Message);
    }

    [Fact]
    public void Apply_ProducerWithASecondReader_Throws()
    {
        // stem_relu feeds both s0_conv1 and the identity shortcut into s0_add: scaling it would change the shortcut.
        var g = ResNetSmall.Build(1);
        var ex = Assert.Throws<ArgumentException>(() => Imbalance.Apply(g, "stem_bn", "s0_conv1", new Random(1)));
        Assert.Contains("readers", ex.Message);
    }

    [Fact]
    public void Apply_UnknownNode_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => Imbalance.Apply(ResNetSmall.Build(1), "nope", "s0_conv2", new Random(1)));
        Assert.Contains("no node named 'nope'", ex.Message);
    }
}
