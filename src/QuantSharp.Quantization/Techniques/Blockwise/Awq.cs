using QuantSharp.Engine;

namespace QuantSharp.Quantization.Techniques.Blockwise;

/// <summary>
/// AWQ (Lin et al. 2023) for per-block weights: per layer, input feature k of the weight is multiplied by
/// <c>s_k = mean|x_k|^α</c> and the activation divided by it (an explicit <c>Mul</c> by 1/s before the layer), which
/// leaves the float product unchanged but gives the salient inputs finer quantization steps; α is chosen from a grid by
/// the layer's output error <c>‖XW − X·diag(1/s)·Q(diag(s)·W)‖²</c> on its calibration inputs, with Q round-to-nearest
/// per block.
/// </summary>
/// <remarks>
/// The grid contains α = 0 (s = 1, plain round-to-nearest), so the chosen scaling is never worse than round-to-nearest on
/// this objective. s is normalized by <c>sqrt(max s · min s)</c> as in the reference implementation. The sim then
/// quantizes the scaled weights with round-to-nearest, which is what the search measured; no encoding needs freezing.
/// </remarks>
public static class Awq
{
    /// <summary>Runs AWQ on every MatMul/Gemm with a constant 2-D weight of <paramref name="graph"/> (not modified).</summary>
    public static BlockwiseResult Apply(Graph graph, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, BlockwiseOptions? options = null)
    {
        options ??= new BlockwiseOptions();
        options.Validate();
        var g = graph.Clone();
        var layers = LinearLayer.Find(g);
        LinearLayer.CaptureInputs(g, layers, feeds, options.MaxRows);
        var report = new List<BlockwiseLayerReport>();
        foreach (var l in layers)
        {
            var w = l.Read(g);
            var (alpha, s, before, after) = Search(l, w, options);
            report.Add(new BlockwiseLayerReport(l.Weight, l.Node.Name, before, after, alpha));
            if (alpha != 0) LinearLayer.ScaleInputs(g, [l], s, "awq_scale");
        }
        return new BlockwiseResult(g, new Dictionary<string, Encodings.Encoding>(), report);
    }

    /// <summary>The best α on the grid, its per-input scales, and the output error of round-to-nearest (α = 0) and of the choice.</summary>
    internal static (double Alpha, float[] Scales, double Before, double After) Search(LinearLayer l, float[] w, BlockwiseOptions o)
    {
        var mean = new double[l.K];
        for (int r = 0; r < l.RowCount; r++)
            for (int k = 0; k < l.K; k++) mean[k] += Math.Abs(l.Rows[r * l.K + k]);
        for (int k = 0; k < l.K; k++) mean[k] = Math.Max(mean[k] / l.RowCount, 1e-8);
        double before = l.OutputError(w, LinearLayer.RoundToNearest(w, l.K, l.N, o).Dequantized);
        (double Alpha, float[] Scales, double Error) best = (0, Enumerable.Repeat(1f, l.K).ToArray(), before);
        foreach (double alpha in o.Alphas.Where(a => a > 0))
        {
            var s = mean.Select(m => Math.Pow(m, alpha)).ToArray();
            double norm = Math.Sqrt(s.Max() * s.Min());
            var sf = s.Select(v => (float)Math.Max(v / norm, 1e-4)).ToArray();
            var scaled = new float[w.Length];
            for (int k = 0; k < l.K; k++)
                for (int n = 0; n < l.N; n++) scaled[k * l.N + n] = w[k * l.N + n] * sf[k];
            var q = LinearLayer.RoundToNearest(scaled, l.K, l.N, o).Dequantized;
            for (int k = 0; k < l.K; k++)
                for (int n = 0; n < l.N; n++) q[k * l.N + n] /= sf[k];
            double error = l.OutputError(w, q);
            if (error < best.Error) best = (alpha, sf, error);
        }
        return (best.Alpha, best.Scales, before, best.Error);
    }
}
