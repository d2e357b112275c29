using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Techniques.Blockwise;

/// <summary>
/// A MatMul or Gemm with a constant 2-D weight, seen as <c>y = x·W</c> with W as a <c>[K, N]</c> matrix (input features
/// first) whatever its stored orientation, and its calibration input rows <c>X [rows, K]</c>.
/// </summary>
internal sealed class LinearLayer
{
    public required Node Node { get; init; }
    public required string Weight { get; init; }
    public required bool Transposed { get; init; }
    public required int K { get; init; }
    public required int N { get; init; }
    public float[] Rows { get; set; } = [];
    public int RowCount { get; set; }

    /// <summary>The weight as [K, N].</summary>
    public float[] Read(Graph g)
    {
        var w = ((Tensor<float>)g.Initializers[Weight]).Data;
        if (!Transposed) return (float[])w.Clone();
        var m = new float[K * N];
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) m[k * N + n] = w[n * K + k];
        return m;
    }

    /// <summary>Stores a [K, N] matrix back in the weight's orientation.</summary>
    public void Write(Graph g, float[] kn)
    {
        var t = (Tensor<float>)g.Initializers[Weight];
        var data = new float[K * N];
        for (int k = 0; k < K; k++)
            for (int n = 0; n < N; n++) data[Transposed ? n * K + k : k * N + n] = kn[k * N + n];
        g.Initializers[Weight] = new Tensor<float>(data, t.Shape);
    }

    /// <summary>The per-block encoding, in the weight's own orientation, of per-block scales/offsets computed on [K, N] (entries [K/bs, N]).</summary>
    public Encoding Encoding(double[] scales, long[] offsets, int blockSize, BlockwiseOptions o)
    {
        int blocks = (K + blockSize - 1) / blockSize;
        if (!Transposed) return Encodings.Encoding.FromScaleOffsetPerBlock(scales, offsets, [blocks, N], 0, blockSize, o.Bits, o.Symmetric);
        var s = new double[scales.Length];
        var f = new long[offsets.Length];
        for (int b = 0; b < blocks; b++)
            for (int n = 0; n < N; n++) { s[n * blocks + b] = scales[b * N + n]; f[n * blocks + b] = offsets[b * N + n]; }
        return Encodings.Encoding.FromScaleOffsetPerBlock(s, f, [N, blocks], 1, blockSize, o.Bits, o.Symmetric);
    }

    /// <summary>Mean squared difference of X·A and X·B over the rows (A, B as [K, N]).</summary>
    public double OutputError(float[] a, float[] b)
    {
        var d = new float[K * N];
        for (int i = 0; i < d.Length; i++) d[i] = a[i] - b[i];
        var y = new float[RowCount * N];
        Gemm.Sgemm(false, false, RowCount, N, K, 1f, Rows, K, d, N, 0f, y, N);
        double sum = 0;
        foreach (float v in y) sum += (double)v * v;
        return sum / Math.Max(1, y.Length);
    }

    /// <summary>
    /// Rewrites <c>x·W</c> as <c>(x·diag(1/s))·(diag(s)·W)</c> for <paramref name="layers"/>, which all read the same input x:
    /// each weight's input rows are multiplied by s and one <c>Mul</c> by 1/s (named after <paramref name="tag"/>) is inserted
    /// before the first of them. The float function is unchanged up to rounding; AWQ and SmoothQuant differ only in s.
    /// </summary>
    /// <returns>The inserted Mul (input 1 is the 1/s initializer).</returns>
    public static Node ScaleInputs(Graph g, IReadOnlyList<LinearLayer> layers, float[] s, string tag)
    {
        string x = layers[0].Node.Inputs[0];
        foreach (var l in layers)
        {
            var w = l.Read(g);
            for (int k = 0; k < l.K; k++)
                for (int n = 0; n < l.N; n++) w[k * l.N + n] *= s[k];
            l.Write(g, w);
        }
        var first = layers.MinBy(l => g.Nodes.IndexOf(l.Node))!.Node;
        string inverse = g.UniqueName(x + "_" + tag + "_inverse");
        g.Initializers[inverse] = new Tensor<float>(s.Select(v => 1f / v).ToArray(), s.Length);
        string scaled = g.UniqueName(x + "_" + tag + "_out");
        var mul = new Node("Mul", [x, inverse], [scaled], g.UniqueName(first.Name + "_" + tag));
        g.Nodes.Insert(g.Nodes.IndexOf(first), mul);
        foreach (var l in layers) l.Node.Inputs[0] = scaled;
        return mul;
    }

    /// <summary>The eligible layers of <paramref name="g"/>: MatMul with a constant [K, N] input 1, Gemm (transA = 0) with a constant input 1, each weight read once.</summary>
    public static List<LinearLayer> Find(Graph g)
    {
        var layers = new List<LinearLayer>();
        foreach (var n in g.Nodes)
        {
            if (n.Domain.Length != 0 || n.Inputs.Count < 2 || !g.Initializers.TryGetValue(n.Inputs[1], out var t) || t is not Tensor<float> { Rank: 2 } w) continue;
            if (g.Consumers(n.Inputs[1]).Count != 1) continue;
            bool transposed;
            if (n.OpType == "MatMul") transposed = false;
            else if (n.OpType == "Gemm" && n.GetInt("transA", 0) == 0) transposed = n.GetInt("transB", 0) != 0;
            else continue;
            layers.Add(new LinearLayer
            {
                Node = n, Weight = n.Inputs[1], Transposed = transposed,
                K = transposed ? w.Dims[1] : w.Dims[0], N = transposed ? w.Dims[0] : w.Dims[1],
            });
        }
        return layers;
    }

    /// <summary>Runs <paramref name="g"/> over the feeds and keeps, per layer, up to <paramref name="maxRows"/> rows of its input.</summary>
    public static void CaptureInputs(Graph g, List<LinearLayer> layers, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, int maxRows)
    {
        var byInput = layers.GroupBy(l => l.Node.Inputs[0]).ToDictionary(x => x.Key, x => x.ToList(), StringComparer.Ordinal);
        foreach (var l in layers) l.Rows = new float[maxRows * l.K];
        var session = new Session(g);
        foreach (var f in feeds)
        {
            if (layers.All(l => l.RowCount >= maxRows)) break;
            session.Run(f, new RunOptions
            {
                Observed = byInput.Keys.ToList(),
                Observer = (name, t) =>
                {
                    if (t is not Tensor<float> x) return;
                    foreach (var l in byInput[name])
                    {
                        int rows = x.Length / l.K, take = Math.Min(rows, maxRows - l.RowCount);
                        if (take <= 0) continue;
                        x.Data.AsSpan(0, take * l.K).CopyTo(l.Rows.AsSpan(l.RowCount * l.K));
                        l.RowCount += take;
                    }
                },
            });
        }
        foreach (var l in layers)
        {
            if (l.RowCount == 0) throw new InvalidOperationException($"blockwise search: layer '{l.Node.Name}' saw no calibration data");
            l.Rows = l.Rows.AsSpan(0, l.RowCount * l.K).ToArray();
        }
    }

    /// <summary>Round-to-nearest per block of a [K, N] matrix along K: (dequantized, scales, offsets) with entries [K/bs, N].</summary>
    public static (float[] Dequantized, double[] Scales, long[] Offsets) RoundToNearest(float[] kn, int k, int n, BlockwiseOptions o)
    {
        var e = BlockQuantization.MinMaxEncoding(new Tensor<float>(kn, k, n), 0, o.BlockSize, o.Bits, o.Symmetric);
        return (BlockQuantization.FakeQuantize(new Tensor<float>(kn, k, n), e).Data, [.. e.Scales], [.. e.Offsets]);
    }
}
