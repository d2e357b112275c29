using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;
using QuantSharp.Quantization.Techniques.Blockwise;

namespace QuantSharp.Quantization.Tests.Blockwise;

/// <summary>GPTQ against a straightforward optimal-brain-quantizer reference; AWQ never worse than round-to-nearest on its objective; both as graph passes the sim takes.</summary>
public sealed class BlockSearchTests
{
    /// <summary>
    /// The reference: inputs quantized in order; after each, its error divided by the current inverse Hessian's diagonal is
    /// fed to the later inputs through that row, and the inverse Hessian drops the quantized input
    /// (Hinv ← Hinv − Hinv[:, i]·Hinv[i, :]/Hinv[i, i]). No Cholesky: GPTQ's Cholesky form must equal this.
    /// </summary>
    private static float[] ReferenceGptq(float[] weight, double[] h, int k, int n, BlockwiseOptions o)
    {
        var w = weight.Select(v => (double)v).ToArray();
        var hd = (double[])h.Clone();
        double damp = o.Dampening * Enumerable.Range(0, k).Average(i => hd[i * k + i]);
        for (int i = 0; i < k; i++) hd[i * k + i] += damp;
        var inv = Invert(hd, k);
        var q = new float[k * n];
        var scale = new float[n];
        var low = new long[n];
        long steps = (1L << o.Bits) - 1;
        for (int i = 0; i < k; i++)
        {
            if (i % o.BlockSize == 0)
                for (int j = 0; j < n; j++)
                {
                    var rows = Enumerable.Range(i, Math.Min(o.BlockSize, k - i)).Select(r => w[r * n + j]).ToList();
                    var e = Encoding.FromMinMax(rows.Min(), rows.Max(), o.Bits, o.Symmetric);
                    (scale[j], low[j]) = ((float)e.Scale, e.Offset);
                }
            for (int j = 0; j < n; j++)
            {
                float level = Math.Clamp(MathF.Round((float)w[i * n + j] / scale[j], MidpointRounding.ToEven), low[j], low[j] + steps);
                q[i * n + j] = level * scale[j];
                double err = (w[i * n + j] - q[i * n + j]) / inv[i * k + i];
                for (int r = i + 1; r < k; r++) w[r * n + j] -= err * inv[i * k + r];
            }
            double d = inv[i * k + i];
            var row = Enumerable.Range(0, k).Select(c => inv[i * k + c]).ToArray();
            for (int r = 0; r < k; r++)
                for (int c = 0; c < k; c++) inv[r * k + c] -= row[r] * row[c] / d;
        }
        return q;
    }

    private static double[] Invert(double[] a, int k)
    {
        var m = (double[])a.Clone();
        var inv = new double[k * k];
        for (int i = 0; i < k; i++) inv[i * k + i] = 1;
        for (int c = 0; c < k; c++)
        {
            double p = m[c * k + c];
            for (int j = 0; j < k; j++) { m[c * k + j] /= p; inv[c * k + j] /= p; }
            for (int r = 0; r < k; r++)
            {
                if (r == c) continue;
                double f = m[r * k + c];
                for (int j = 0; j < k; j++) { m[r * k + j] -= f * m[c * k + j]; inv[r * k + j] -= f * inv[c * k + j]; }
            }
        }
        return inv;
    }

    private static (float[] W, double[] H) Case(int k, int n, int rows, int seed)
    {
        var rng = new Random(seed);
        var w = Tensor.RandomNormal(rng, 0f, 1f, k, n).Data;
        var x = Tensor.RandomNormal(rng, 0f, 1f, rows, k).Data;
        // Correlated inputs make the error feedback matter.
        for (int r = 0; r < rows; r++) x[r * k + 1] = 0.8f * x[r * k] + 0.2f * x[r * k + 1];
        var h = new double[k * k];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) h[i * k + j] += 2.0 * x[r * k + i] * x[r * k + j] / rows;
        return (w, h);
    }

    [Theory]
    [InlineData(4, 2, 2, 4, true)]
    [InlineData(8, 3, 4, 3, false)]
    [InlineData(16, 5, 8, 4, true)]
    public void Gptq_CholeskyForm_EqualsTheSequentialInverseHessianReference(int k, int n, int blockSize, int bits, bool symmetric)
    {
        var (w, h) = Case(k, n, rows: 64, seed: k + n);
        var o = new BlockwiseOptions { Bits = bits, BlockSize = blockSize, Symmetric = symmetric };
        var expected = ReferenceGptq(w, h, k, n, o);
        var (actual, scales, offsets) = Gptq.Quantize(w, (double[])h.Clone(), k, n, o);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-5, $"weight {i}: reference {expected[i]}, GPTQ {actual[i]}");
        // The returned encoding is the grid the weights lie on: the sim's fake quantization leaves them unchanged.
        var e = Encoding.FromScaleOffsetPerBlock(scales, offsets, [(k + blockSize - 1) / blockSize, n], 0, blockSize, bits, symmetric);
        Assert.Equal(actual, BlockQuantization.FakeQuantize(new Tensor<float>(actual, k, n), e).Data);
    }

    [Fact]
    public void Gptq_OnAGraph_LowersTheOutputErrorBelowRoundToNearest_AndTheSimKeepsItsWeights()
    {
        var graph = BlockwiseModels.EmbedMatMulGemm();
        var feeds = Enumerable.Range(0, 4).Select(i => (IReadOnlyDictionary<string, Tensor>)BlockwiseModels.Ids(16, seed: 10 + i)).ToList();
        var result = Gptq.Apply(graph, feeds, new BlockwiseOptions { Bits = 4, BlockSize = 16 });
        Assert.Equal(["w1", "w2"], result.Layers.Select(l => l.Weight));
        Assert.True(result.Layers.Sum(l => l.ErrorAfter) < result.Layers.Sum(l => l.ErrorBefore), string.Join("; ", result.Layers));
        Assert.NotSame(graph, result.Graph);
        Assert.NotEqual(((Tensor<float>)graph.Initializers["w1"]).Data, ((Tensor<float>)result.Graph.Initializers["w1"]).Data);

        var sim = new QuantizationSimModel(result.Graph, new QuantSimOptions { DefaultParamBw = 4, ParamBlockSize = 16, WeightOnly = true });
        foreach (var (name, e) in result.Encodings) sim.Quantizer(name).SetAndFreeze(e);
        sim.ComputeEncodings(s => s.Run(feeds[0]));
        foreach (var name in result.Encodings.Keys)
        {
            var w = (Tensor<float>)result.Graph.Initializers[name];
            Assert.Equal(w.Data, BlockQuantization.FakeQuantize(w, sim.Quantizer(name).Encoding!).Data);
        }
    }

    [Fact]
    public void Awq_IsNeverWorseThanRoundToNearestOnItsObjective_AndKeepsTheFloatFunction()
    {
        var graph = BlockwiseModels.EmbedMatMulGemm();
        var feeds = Enumerable.Range(0, 4).Select(i => (IReadOnlyDictionary<string, Tensor>)BlockwiseModels.Ids(16, seed: 20 + i)).ToList();
        var result = Awq.Apply(graph, feeds, new BlockwiseOptions { Bits = 4, BlockSize = 16 });
        Assert.Equal(2, result.Layers.Count);
        Assert.All(result.Layers, l => Assert.True(l.ErrorAfter <= l.ErrorBefore, l.ToString()));
        Assert.Contains(result.Layers, l => l.Alpha > 0 && l.ErrorAfter < l.ErrorBefore);
        Assert.Contains(result.Graph.Nodes, n => n.OpType == "Mul" && n.Name.Contains("_awq_", StringComparison.Ordinal));
        // Scaling weights by s and activations by 1/s leaves the float model's output unchanged (up to float rounding).
        var before = new Session(graph).Run(feeds[0]).Output("y");
        var after = new Session(result.Graph).Run(feeds[0]).Output("y");
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before.Data[i] - after.Data[i]) < 1e-4 * (1 + Math.Abs(before.Data[i])), $"y[{i}]");
    }

    [Fact]
    public void BlockwiseOptions_RefuseOutOfRangeValues_NamingTheField()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gptq.Apply(BlockwiseModels.EmbedMatMulGemm(), [BlockwiseModels.Ids(2)], new BlockwiseOptions { BlockSize = 0 }));
        Assert.Contains("BlockSize", ex.Message);
    }
}
