using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Techniques.Blockwise;

/// <summary>
/// GPTQ (Frantar et al. 2022) for per-block weights: per layer, the input features are quantized in order and each one's
/// rounding error is spread over the features not yet quantized through the Cholesky factor of the inverse Hessian
/// <c>H = 2XᵀX/rows</c> of the layer's calibration inputs, so <c>‖XW − XŴ‖²</c> shrinks instead of each weight's own error.
/// </summary>
/// <remarks>
/// <para>Per layer, with W as [K inputs, N outputs]: H gets <c>λ·mean(diag H)</c> added to its diagonal (inputs never
/// active get H[i,i] = 1 and zero weights); <c>U</c> is the upper Cholesky factor of <c>H⁻¹</c>. For each block of
/// <c>BlockSize</c> inputs, every output's block scale and offset come from the block's current (already corrected) weights
/// by AIMET's min/max formulas; then for each input row i of the block: <c>q = quantize(w_i)</c>,
/// <c>e = (w_i − q)/U[i,i]</c>, <c>w_j −= e·U[i,j]</c> for every later row j.</para>
/// <para>The layer inputs are the float model's (not the partially quantized model's). The returned graph holds the
/// dequantized weights; the returned encodings are exactly the ones used, to be frozen in the sim.</para>
/// </remarks>
public static class Gptq
{
    /// <summary>Runs GPTQ on every MatMul/Gemm with a constant 2-D weight of <paramref name="graph"/> (not modified).</summary>
    public static BlockwiseResult Apply(Graph graph, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, BlockwiseOptions? options = null)
    {
        options ??= new BlockwiseOptions();
        options.Validate();
        var g = graph.Clone();
        var layers = LinearLayer.Find(g);
        LinearLayer.CaptureInputs(g, layers, feeds, options.MaxRows);
        var encodings = new Dictionary<string, Encoding>(StringComparer.Ordinal);
        var report = new List<BlockwiseLayerReport>();
        foreach (var l in layers)
        {
            var w = l.Read(g);
            var (rtn, _, _) = LinearLayer.RoundToNearest(w, l.K, l.N, options);
            var (q, scales, offsets) = Quantize(w, Hessian(l.Rows, l.RowCount, l.K), l.K, l.N, options);
            double before = l.OutputError(w, rtn), after = l.OutputError(w, q);
            l.Write(g, q);
            encodings[l.Weight] = l.Encoding(scales, offsets, options.BlockSize, options);
            report.Add(new BlockwiseLayerReport(l.Weight, l.Node.Name, before, after));
        }
        return new BlockwiseResult(g, encodings, report);
    }

    /// <summary>H = 2XᵀX/rows of X [rows, K], in double.</summary>
    internal static double[] Hessian(float[] x, int rows, int k)
    {
        var h = new float[k * k];
        Gemm.Sgemm(true, false, k, k, rows, 2f / rows, x, k, x, k, 0f, h, k);
        return h.Select(v => (double)v).ToArray();
    }

    /// <summary>
    /// GPTQ of W [K, N] under Hessian H [K, K] (modified): the dequantized weights and the per-block scales and offsets
    /// (entries [K/bs, N]) they lie on.
    /// </summary>
    internal static (float[] Dequantized, double[] Scales, long[] Offsets) Quantize(float[] weight, double[] h, int k, int n, BlockwiseOptions o)
    {
        var w = weight.Select(v => (double)v).ToArray();
        for (int i = 0; i < k; i++)
            if (h[i * k + i] == 0)
            {
                h[i * k + i] = 1;
                for (int j = 0; j < n; j++) w[i * n + j] = 0;
            }
        double damp = 0;
        for (int i = 0; i < k; i++) damp += h[i * k + i];
        damp = o.Dampening * damp / k;
        for (int i = 0; i < k; i++) h[i * k + i] += damp;
        var u = UpperCholeskyOfInverse(h, k);

        int bs = o.BlockSize, blocks = (k + bs - 1) / bs;
        var scales = new double[blocks * n];
        var offsets = new long[blocks * n];
        var q = new float[k * n];
        var err = new double[n];
        var lo = new long[n];
        var sc = new float[n];
        long steps = (1L << o.Bits) - 1;
        for (int b = 0; b < blocks; b++)
        {
            int start = b * bs, end = Math.Min(k, start + bs);
            for (int j = 0; j < n; j++)
            {
                double mn = double.PositiveInfinity, mx = double.NegativeInfinity;
                for (int i = start; i < end; i++) { mn = Math.Min(mn, w[i * n + j]); mx = Math.Max(mx, w[i * n + j]); }
                var e = Encoding.FromMinMax(mn, mx, o.Bits, o.Symmetric);
                scales[b * n + j] = e.Scale;
                offsets[b * n + j] = e.Offset;
                sc[j] = (float)e.Scale;
                lo[j] = e.Offset;
            }
            for (int i = start; i < end; i++)
            {
                double d = u[i * k + i];
                for (int j = 0; j < n; j++)
                {
                    // The sim's rounding: float division by the float scale, half to even, clamped to the block's grid.
                    float level = Math.Clamp(MathF.Round((float)w[i * n + j] / sc[j], MidpointRounding.ToEven), lo[j], lo[j] + steps);
                    q[i * n + j] = level * sc[j];
                    err[j] = (w[i * n + j] - q[i * n + j]) / d;
                }
                for (int r = i + 1; r < k; r++)
                {
                    double f = u[i * k + r];
                    if (f == 0) continue;
                    int row = r * n;
                    for (int j = 0; j < n; j++) w[row + j] -= err[j] * f;
                }
            }
        }
        return (q, scales, offsets);
    }

    /// <summary>U upper triangular with UᵀU = H⁻¹, H symmetric positive definite [k, k].</summary>
    internal static double[] UpperCholeskyOfInverse(double[] h, int k)
    {
        var l = Cholesky(h, k, "the damped Hessian");
        // H⁻¹ = L⁻ᵀL⁻¹. Row r of L⁻¹ = (e_r − Σ_{m<r} L[r,m]·row m of L⁻¹) / L[r,r]; both products run along rows (contiguous).
        var li = new double[k * k];
        for (int r = 0; r < k; r++)
        {
            var row = li.AsSpan(r * k, k);
            row[r] = 1;
            for (int m = 0; m < r; m++)
            {
                double f = l[r * k + m];
                if (f == 0) continue;
                var prev = li.AsSpan(m * k, m + 1);
                for (int c = 0; c <= m; c++) row[c] -= f * prev[c];
            }
            double d = l[r * k + r];
            for (int c = 0; c <= r; c++) row[c] /= d;
        }
        // inv = Σ_m outer(row m of L⁻¹), lower triangle accumulated row by row, then mirrored.
        var inv = new double[k * k];
        for (int m = 0; m < k; m++)
        {
            var row = li.AsSpan(m * k, m + 1);
            for (int r = 0; r <= m; r++)
            {
                double f = row[r];
                if (f == 0) continue;
                var target = inv.AsSpan(r * k, r + 1);
                for (int c = 0; c <= r; c++) target[c] += f * row[c];
            }
        }
        for (int r = 0; r < k; r++)
            for (int c = 0; c < r; c++) inv[c * k + r] = inv[r * k + c];
        var lInv = Cholesky(inv, k, "the inverse Hessian");
        var u = new double[k * k];
        for (int r = 0; r < k; r++)
            for (int c = 0; c <= r; c++) u[c * k + r] = lInv[r * k + c];
        return u;
    }

    private static double[] Cholesky(double[] a, int k, string what)
    {
        var l = new double[k * k];
        for (int j = 0; j < k; j++)
        {
            double d = a[j * k + j];
            for (int m = 0; m < j; m++) d -= l[j * k + m] * l[j * k + m];
            if (!(d > 0)) throw new InvalidOperationException($"GPTQ: {what} is not positive definite at row {j} (raise the dampening)");
            double ljj = Math.Sqrt(d);
            l[j * k + j] = ljj;
            for (int i = j + 1; i < k; i++)
            {
                double s = a[i * k + j];
                for (int m = 0; m < j; m++) s -= l[i * k + m] * l[j * k + m];
                l[i * k + j] = s / ljj;
            }
        }
        return l;
    }
}
