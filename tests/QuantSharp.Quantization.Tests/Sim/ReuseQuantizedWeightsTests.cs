using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Sim;

/// <summary>A sim that quantizes each weight once computes exactly what one that re-quantizes every run computes, and sees every change it promises to see.</summary>
public class ReuseQuantizedWeightsTests
{
    private static Dictionary<string, Tensor> Feed(int seed) => new() { ["image"] = Tensor.RandomUniform(new Random(seed), 0f, 1f, 4, 1, 28, 28) };

    private static QuantizationSimModel Calibrated(int paramBits = 4)
    {
        var sim = new QuantizationSimModel(SimTestModels.SmallCnn(1), new QuantSimOptions { DefaultParamBw = paramBits });
        sim.ComputeEncodings(s => { s.Run(Feed(1)); s.Run(Feed(2)); });
        return sim;
    }

    private static float[] Logits(QuantizationSimModel sim, int seed = 3) => ((Tensor<float>)sim.Run(Feed(seed)).Outputs.Values.Single()).Data.ToArray();

    [Fact]
    public void Reused_IsBitIdenticalToRequantizingEveryRun_OverRepeatedRuns()
    {
        var sim = Calibrated();
        var expected = Logits(sim);
        Assert.False(sim.ReuseQuantizedWeights);
        sim.ReuseQuantizedWeights = true;
        Assert.True(sim.ReuseQuantizedWeights);
        for (int i = 0; i < 3; i++) Assert.Equal(expected, Logits(sim));
        Assert.Equal(Logits(sim, seed: 7), Logits(sim, seed: 7));
    }

    [Fact]
    public void Reused_SeesANewEncoding_AReplacedWeight_AndADisabledQuantizer()
    {
        var sim = Calibrated();
        sim.ReuseQuantizedWeights = true;
        var before = Logits(sim);
        var q = sim.Quantizers["conv2.weight"];

        var encoding = q.Encoding!;
        q.Encoding = Encoding.FromMinMax(encoding.Min * 3, encoding.Max * 3, encoding.BitWidth);
        var coarser = Logits(sim);
        sim.ReuseQuantizedWeights = false;
        Assert.Equal(coarser, Logits(sim)); // what a sim without reuse computes with that encoding
        Assert.NotEqual(before, coarser);
        sim.ReuseQuantizedWeights = true;

        var w = (Tensor<float>)sim.Model.Initializers["conv2.weight"];
        var scaled = w.Clone();
        for (int i = 0; i < scaled.Length; i++) scaled.Data[i] *= 0.5f;
        sim.Model.Initializers["conv2.weight"] = scaled;
        var replaced = Logits(sim);
        sim.ReuseQuantizedWeights = false;
        Assert.Equal(replaced, Logits(sim));
        sim.ReuseQuantizedWeights = true;

        q.Enabled = false;
        var disabled = Logits(sim);
        sim.ReuseQuantizedWeights = false;
        Assert.Equal(disabled, Logits(sim));
    }

    [Fact]
    public void TrainingRuns_QuantizeAfresh()
    {
        var sim = Calibrated();
        sim.ReuseQuantizedWeights = true;
        Logits(sim);
        var w = (Tensor<float>)sim.Model.Initializers["conv2.weight"];
        for (int i = 0; i < w.Length; i++) w.Data[i] *= 0.5f; // an optimizer step writes in place
        var trained = sim.Session.Run(Feed(3), new RunOptions { Training = true });
        var fresh = Calibrated();
        var fw = (Tensor<float>)fresh.Model.Initializers["conv2.weight"];
        for (int i = 0; i < fw.Length; i++) fw.Data[i] *= 0.5f;
        Assert.Equal(((Tensor<float>)fresh.Session.Run(Feed(3), new RunOptions { Training = true }).Outputs.Values.Single()).Data,
            ((Tensor<float>)trained.Outputs.Values.Single()).Data);
    }
}
