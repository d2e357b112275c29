using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Sim;

/// <summary>
/// A W8A8 sim's convolutions run fused (Conv → BatchNormalization → Relu, through the disabled quantizers between them,
/// with the enabled output quantizer applied in the epilogue) and give the unfused sim's bits; calibration, which
/// collects statistics in the quantizers, runs unfused.
/// </summary>
public class SimConvFusionTests
{
    private static Graph ConvBnRelu()
    {
        var rng = new Random(4);
        var b = new GraphBuilder("conv_bn_relu", opset: 13);
        var x = b.Input("image", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(3), Dim.Fixed(12), Dim.Fixed(12));
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 3, 8, 3, rng, "conv1", padding: 1), 8, "bn1"), name: "relu1");
        h = b.Relu(b.BatchNormLayer(b.ConvLayer(h, 8, 8, 3, rng, "conv2", stride: 2, padding: 1), 8, "bn2"), name: "relu2");
        h = b.ConvLayer(h, 8, 16, 1, rng, "conv3");
        b.Output(b.LinearLayer(b.Flatten(h, name: "flatten"), 16 * 6 * 6, 5, rng, "fc"), name: "logits");
        var graph = b.Build();
        // Statistics that are not the identity, so the normalization changes the values.
        foreach (var name in graph.Initializers.Keys.Where(k => k.Contains("running_var") || k.Contains("running_mean")).ToList())
        {
            var t = (Tensor<float>)graph.Initializers[name];
            for (int i = 0; i < t.Length; i++) t.Data[i] = name.Contains("var") ? 0.5f + i * 0.1f : 0.05f * i - 0.2f;
        }
        return graph;
    }

    [Fact]
    public void FusedSim_GivesTheUnfusedSimsBits_AndCalibratesTheSame()
    {
        var feeds = new Dictionary<string, Tensor> { ["image"] = Tensor.RandomUniform(new Random(5), 0f, 1f, 6, 3, 12, 12) };
        var fused = new QuantizationSimModel(ConvBnRelu(), new QuantSimOptions());
        var plain = new QuantizationSimModel(ConvBnRelu(), new QuantSimOptions());
        plain.Session.FuseConvolutions = false;
        fused.ComputeEncodings(s => s.Run(feeds));
        plain.ComputeEncodings(s => s.Run(feeds));
        foreach (var (name, q) in plain.Quantizers)
            Assert.Equal(q.Encoding?.ToString(), fused.Quantizers[name].Encoding?.ToString());
        fused.Session.Profile = new NodeProfile();
        var y = ((Tensor<float>)fused.Run(feeds).Outputs["logits"]).Data;
        Assert.True(((Tensor<float>)plain.Run(feeds).Outputs["logits"]).Data.SequenceEqual(y));
        Assert.DoesNotContain(fused.Session.Profile.Entries, e => e.OpType is "BatchNormalization" or "Relu");
    }
}
