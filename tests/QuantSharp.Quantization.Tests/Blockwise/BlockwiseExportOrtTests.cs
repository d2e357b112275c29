using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Onnx.Tests.Support;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Tests.Blockwise;

/// <summary>
/// Per-block weights exported as opset-21 blocked DequantizeLinear and as com.microsoft.MatMulNBits run in ONNX Runtime
/// and match the sim: the dequantized weights are the sim's fake-quantized weights exactly, outputs agree to float rounding.
/// </summary>
[Trait("Category", OrtRunner.Category)]
public sealed class BlockwiseExportOrtTests
{
    private static QuantizationSimModel Calibrated(int bits, int blockSize, bool symmetric)
    {
        var sim = new QuantizationSimModel(BlockwiseModels.EmbedMatMulGemm(),
            new QuantSimOptions { DefaultParamBw = bits, ParamBlockSize = blockSize, WeightOnly = true, ParamSymmetric = symmetric });
        sim.ComputeEncodings(s => s.Run(BlockwiseModels.Ids(8)));
        return sim;
    }

    private static void AssertClose(Tensor<float> expected, Tensor<float> actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= 1e-4f * (1 + Math.Abs(expected.Data[i])), $"element {i}: sim {expected.Data[i]}, export {actual.Data[i]}");
    }

    [Theory]
    [InlineData(4, 32, true)]
    [InlineData(4, 16, false)]
    [InlineData(8, 32, true)]
    [InlineData(8, 64, false)]
    public void BlockedDequantizeLinear_RunsInOnnxRuntime_AndMatchesTheSim(int bits, int blockSize, bool symmetric)
    {
        var sim = Calibrated(bits, blockSize, symmetric);
        var qdq = sim.ToQdqGraph();
        Assert.Equal(21, qdq.Opsets[""]);
        var dqs = qdq.Nodes.Where(n => n.OpType == "DequantizeLinear").ToList();
        Assert.Equal(3, dqs.Count);
        Assert.All(dqs, n => Assert.Equal(blockSize, n.GetInt("block_size", 0)));
        Assert.Equal(bits == 4 ? (symmetric ? DataType.Int4 : DataType.UInt4) : (symmetric ? DataType.Int8 : DataType.UInt8),
            qdq.Initializers[dqs[0].Inputs[0]].DataType);

        // The dequantized weights, as ONNX Runtime computes them, equal the sim's fake-quantized weights bit for bit.
        var probe = qdq.Clone();
        foreach (var w in new[] { "table", "w1", "w2" })
        {
            string dequantized = probe.Nodes.Single(n => n.OpType == "DequantizeLinear" && probe.Consumers(n.Outputs[0]).Count > 0
                && n.Inputs[0].StartsWith(w + "_", StringComparison.Ordinal)).Outputs[0];
            probe.Outputs.Add(new ValueInfo(dequantized, DataType.Float32, (IEnumerable<Dim>?)null));
        }
        var feeds = BlockwiseModels.Ids(8, seed: 5);
        var ort = OrtRunner.Run(probe, feeds);
        var simRun = sim.Run(feeds);
        foreach (var name in new[] { "table", "w1", "w2" })
        {
            var fromOrt = (Tensor<float>)ort[probe.Outputs.Select(o => o.Name).Single(o => probe.Producer(o)?.Inputs[0].StartsWith(name + "_", StringComparison.Ordinal) == true)];
            var fromSim = BlockQuantization.FakeQuantize((Tensor<float>)sim.Model.Initializers[name], sim.Quantizer(name).Encoding!);
            Assert.Equal(fromSim.Data, fromOrt.Data);
        }
        AssertClose(simRun.Output("y"), (Tensor<float>)ort["y"]);
        // QuantSharp's own engine runs the blocked export too (quantsharp run / the integer simulation use it).
        AssertClose(simRun.Output("y"), new Session(qdq).Run(feeds).Output("y"));
    }

    [Theory]
    [InlineData(32, true)]
    [InlineData(16, false)]
    public void MatMulNBits_RunsInOnnxRuntime_AndMatchesTheSim(int blockSize, bool symmetric)
    {
        var sim = Calibrated(4, blockSize, symmetric);
        var lowered = sim.ToQdqGraph(new QdqOptions { MatMulNBits = true });
        var nbits = Assert.Single(lowered.Nodes, n => n.OpType == "MatMulNBits");
        Assert.Equal("com.microsoft", nbits.Domain);
        Assert.Equal(symmetric ? 3 : 4, nbits.Inputs.Count); // zero points only when some block's differs from 8
        Assert.DoesNotContain(lowered.Nodes, n => n.OpType == "MatMul");
        Assert.False(lowered.Initializers.ContainsKey("w1"));
        var feeds = BlockwiseModels.Ids(8, seed: 6);
        AssertClose(sim.Run(feeds).Output("y"), (Tensor<float>)OrtRunner.Run(lowered, feeds)["y"]);
    }
}
