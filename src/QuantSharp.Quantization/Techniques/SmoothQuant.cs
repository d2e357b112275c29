using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Export;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.Techniques;

/// <summary>One group of layers <see cref="SmoothQuant"/> rescaled: the layers reading one activation.</summary>
/// <param name="Input">The activation the layers read.</param>
/// <param name="Layers">The MatMul/Gemm nodes (Q, K and V share one input and one scale).</param>
/// <param name="ActivationAbsMaxBefore">Largest |x| over every channel before: what sets an 8-bit per-tensor step.</param>
/// <param name="ActivationAbsMaxAfter">The same after dividing by s.</param>
/// <param name="OutlierRatioBefore">Largest channel |x| max over the median channel's: how badly outliers stretch the grid.</param>
/// <param name="OutlierRatioAfter">The same after.</param>
/// <param name="InverseScale">The initializer holding 1/s, the inserted Mul's constant.</param>
public sealed record SmoothQuantGroup(string Input, IReadOnlyList<string> Layers, double ActivationAbsMaxBefore, double ActivationAbsMaxAfter,
    double OutlierRatioBefore, double OutlierRatioAfter, string InverseScale)
{
    /// <summary>The migration strength used for this group.</summary>
    public double Alpha { get; init; }

    /// <summary>With a search: the layers' quantized output mean squared error without smoothing.</summary>
    public double? ErrorUnsmoothed { get; init; }

    /// <summary>With a search: the same with the chosen α.</summary>
    public double? ErrorSmoothed { get; init; }
}

/// <summary>What <see cref="SmoothQuant"/> did.</summary>
/// <param name="Graph">The smoothed graph (its float function unchanged up to rounding).</param>
/// <param name="Alpha">The migration strength.</param>
/// <param name="Groups">Each rescaled group.</param>
public sealed record SmoothQuantResult(Graph Graph, double Alpha, IReadOnlyList<SmoothQuantGroup> Groups) : IGraphPassResult
{
    /// <summary>Each group's α was searched (<see cref="SmoothQuantOptions.AlphaGrid"/>); groups it did not help are not listed.</summary>
    public bool Searched { get; init; }

    /// <inheritdoc />
    public EncodingsFile? ParamEncodings => null;

    /// <summary>
    /// Moves each smoothed activation's quantizer to where the layers read it: the producer's output quantizer (when the
    /// sim has one) is disabled, so the inserted <c>Mul</c>'s output is the only rounding on the way into the layers and the
    /// producer's other readers (a post-LayerNorm BERT's residual sum) read the exact value. Without this the outliers are
    /// rounded once on the producer's grid before the division, and the smoothing only adds a second rounding. The Mul's
    /// constant 1/s stays exact too (the presets quantize every float constant): the weights were scaled by exactly s, and
    /// one per-tensor grid over 1/s would round the outlier channels' small factors by several percent (or to zero when
    /// one channel's factor is huge).
    /// </summary>
    /// <returns>The activation quantizers disabled (the 1/s parameter quantizers are not listed).</returns>
    public IReadOnlyList<string> QuantizeAfterSmoothing(QuantizationSimModel sim)
    {
        var moved = new List<string>();
        foreach (var g in Groups)
        {
            if (sim.Quantizers.TryGetValue(g.Input, out var q) && q.Role == QuantizerRole.Activation && q.Enabled)
            {
                q.Enabled = false;
                moved.Add(g.Input);
            }
            if (sim.Quantizers.TryGetValue(g.InverseScale, out var p) && p.Role == QuantizerRole.Param) p.Enabled = false;
        }
        return moved;
    }

    /// <summary>One line per group for a summary.</summary>
    public override string ToString() => string.Join('\n', Groups.Select(Line).Prepend(
        Searched ? $"smoothquant (α searched per group): {Groups.Count} group(s) helped"
            : $"smoothquant (α = {Alpha.ToString(CultureInfo.InvariantCulture)}): {Groups.Count} group(s)"));

    private static string Line(SmoothQuantGroup g)
    {
        string line = string.Create(CultureInfo.InvariantCulture,
            $"smoothquant {g.Input} → {string.Join(", ", g.Layers)}: |x| max {g.ActivationAbsMaxBefore:G4} → {g.ActivationAbsMaxAfter:G4}, outlier ratio {g.OutlierRatioBefore:F1} → {g.OutlierRatioAfter:F1}");
        return g.ErrorUnsmoothed is { } e0 && g.ErrorSmoothed is { } e1
            ? line + string.Create(CultureInfo.InvariantCulture, $", α {g.Alpha:0.0#}, quantized output MSE {e0:G3} → {e1:G3}") : line;
    }
}

/// <summary>
/// SmoothQuant (Xiao et al. 2023) for MatMul/Gemm with constant weights: x·W = (x·diag(1/s))·(diag(s)·W) with
/// <c>s_k = max|x_k|^α / max|W_k,:|^(1−α)</c>, migrating activation outlier channels into the weights, which
/// per-channel weight quantization absorbs better than per-tensor activation quantization absorbs outliers.
/// </summary>
/// <remarks>
/// <para>Layers reading the same activation (a transformer's Q, K and V) form one group with one s, computed from the largest
/// weight row over all of them, so one <c>Mul</c> by 1/s serves the group. The division is an explicit <c>Mul</c> before the
/// group rather than folded into the producer: in a post-LayerNorm BERT the LayerNorm output also feeds the residual sum,
/// which must keep the unscaled values. The sim quantizes the Mul's output (the scaled activation), and
/// <see cref="SmoothQuantResult.QuantizeAfterSmoothing"/> disables the producer's own output quantizer, so the residual
/// sum reads the exact LayerNorm output, as ONNX Runtime's own static quantizer leaves it (it quantizes MatMul inputs).
/// Keeping the producer's quantizer too would round the outliers on the wide grid first and the smoothing would only add
/// a second rounding. Folding 1/s into LayerNorm's γ and β instead would keep the residual quantized but needs a
/// compensating Mul on the residual edge anyway.</para>
/// <para>α trades the two difficulties: 0 leaves activations alone, 1 moves all of it into weights; 0.5 is the paper's
/// default for OPT/BLOOM. Groups whose largest channel is less than <c>minOutlierRatio</c> times the median channel are
/// left alone (nothing to migrate). Measured on all-MiniLM-L6-v2 (per-channel W8A8, 256 calibration and 300 test
/// sentences, mean-pooled embedding cosine to FP32): without SmoothQuant 0.9890; α = 0.5 0.9855; 0.7 0.9965; 0.8 0.9971;
/// 0.9 0.9968; 0.3 0.861 (the weights' rows blow up). Its post-attention LayerNorm output has one channel 14–16× the
/// median channel in every layer.</para>
/// </remarks>
public static class SmoothQuant
{
    /// <summary>Smooths with one α (see <see cref="Apply(Graph, IEnumerable{IReadOnlyDictionary{string, Tensor}}, SmoothQuantOptions)"/>).</summary>
    /// <exception cref="ArgumentException">α outside [0, 1], a negative ratio, or feeds that miss an input.</exception>
    public static SmoothQuantResult Apply(Graph graph, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, double alpha = 0.5, double minOutlierRatio = 0,
        IReadOnlyList<string>? opTypes = null) =>
        Apply(graph, feeds, new SmoothQuantOptions { Alpha = alpha, MinOutlierRatio = minOutlierRatio, OpTypes = opTypes ?? new SmoothQuantOptions().OpTypes });

    /// <summary>
    /// Smooths every group of MatMul/Gemm layers (of <see cref="SmoothQuantOptions.OpTypes"/>) with constant 2-D weights of
    /// <paramref name="graph"/> (not modified) whose input's outlier ratio (largest channel |x| max over the median
    /// channel's) is at least <see cref="SmoothQuantOptions.MinOutlierRatio"/>. With an <see cref="SmoothQuantOptions.AlphaGrid"/>
    /// each group takes the candidate (or no smoothing) whose W8A8 output error is least on its calibration inputs.
    /// </summary>
    /// <exception cref="ArgumentException">Bad options or feeds that miss an input.</exception>
    public static SmoothQuantResult Apply(Graph graph, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, SmoothQuantOptions options)
    {
        options.Validate();
        var g = graph.Clone();
        g.EnsureNodeNames();
        var feedList = feeds as IReadOnlyList<IReadOnlyDictionary<string, Tensor>> ?? feeds.ToList();
        var groups = Blockwise.LinearLayer.Find(g).Where(l => options.OpTypes.Contains(l.Node.OpType)).GroupBy(l => l.Node.Inputs[0])
            .Where(x => x.Select(l => l.K).Distinct().Count() == 1).ToList();
        var absMax = ChannelAbsMax(g, groups.ToDictionary(x => x.Key, x => x.First().K, StringComparer.Ordinal), feedList);
        groups = groups.Where(x => absMax.TryGetValue(x.Key, out var a) && OutlierRatio(a) >= options.MinOutlierRatio).ToList();
        var candidates = options.AlphaGrid.Append(options.Alpha).Distinct().Order().ToList();
        bool search = candidates.Count > 1;
        if (search) Blockwise.LinearLayer.CaptureInputs(g, groups.SelectMany(x => x).ToList(), feedList, options.SearchRows);
        var report = new List<SmoothQuantGroup>();
        foreach (var group in groups)
        {
            var a = absMax[group.Key];
            int k = a.Length;
            var layers = group.ToList();
            var weights = layers.Select(l => l.Read(g)).ToList();
            var wMax = new double[k];
            foreach (var (l, w) in layers.Zip(weights))
                for (int i = 0; i < k; i++)
                    for (int n = 0; n < l.N; n++) wMax[i] = Math.Max(wMax[i], Math.Abs(w[i * l.N + n]));
            float[] Scales(double alpha)
            {
                var s = new float[k];
                for (int i = 0; i < k; i++)
                    s[i] = a[i] > 0 && wMax[i] > 0 ? (float)Math.Clamp(Math.Pow(a[i], alpha) / Math.Pow(wMax[i], 1 - alpha), 1e-5, 1e5) : 1f;
                return s;
            }
            double chosen = options.Alpha;
            double? errorNone = null, errorChosen = null;
            if (search)
            {
                var products = layers.Zip(weights).Select(p => Product(p.First.Rows, p.Second, p.First.RowCount, k, p.First.N)).ToList();
                errorNone = QuantizedOutputError(layers, weights, products, null, options);
                (double? Alpha, double Error) best = (null, errorNone.Value);
                foreach (double alpha in candidates)
                {
                    double e = QuantizedOutputError(layers, weights, products, Scales(alpha), options);
                    if (e < best.Error) best = (alpha, e);
                }
                foreach (var l in layers) l.Rows = [];
                if (best.Alpha is not { } picked) continue; // smoothing does not help this group
                chosen = picked;
                errorChosen = best.Error;
            }
            var scales = Scales(chosen);
            var mul = Blockwise.LinearLayer.ScaleInputs(g, layers, scales, "smoothquant");
            var after = a.Select((v, i) => v / scales[i]).ToArray();
            report.Add(new SmoothQuantGroup(group.Key, group.Select(l => l.Node.Name).ToList(), a.Max(), after.Max(), OutlierRatio(a), OutlierRatio(after), mul.Inputs[1])
            {
                Alpha = chosen, ErrorUnsmoothed = errorNone, ErrorSmoothed = errorChosen,
            });
        }
        return new SmoothQuantResult(g, options.Alpha, report) { Searched = search };
    }

    /// <summary>
    /// Mean squared error, over the captured rows and every layer of a group, of <c>Q(X/s)·Q(s·W)</c> against <c>X·W</c>:
    /// the activation per-tensor asymmetric and the weights symmetric per output channel (or per tensor), min/max grids of
    /// the options' bit widths; <paramref name="s"/> null is no smoothing.
    /// </summary>
    private static double QuantizedOutputError(List<Blockwise.LinearLayer> layers, List<float[]> weights, List<float[]> products, float[]? s, SmoothQuantOptions o)
    {
        var first = layers[0];
        int rows = first.RowCount, k = first.K;
        var x = new float[rows * k];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < k; i++) x[r * k + i] = s is null ? first.Rows[r * k + i] : first.Rows[r * k + i] / s[i];
        var xt = new Tensor<float>(x, rows * k, 1);
        var xq = BlockQuantization.FakeQuantize(xt, BlockQuantization.MinMaxEncoding(xt, 0, rows * k, o.ActivationBits, symmetric: false)).Data;
        double sum = 0;
        long count = 0;
        foreach (var ((l, w), y) in layers.Zip(weights).Zip(products))
        {
            var ws = new float[k * l.N];
            for (int i = 0; i < k; i++)
                for (int n = 0; n < l.N; n++) ws[i * l.N + n] = s is null ? w[i * l.N + n] : w[i * l.N + n] * s[i];
            var wt = o.PerChannelWeights ? new Tensor<float>(ws, k, l.N) : new Tensor<float>(ws, k * l.N, 1);
            var wq = BlockQuantization.FakeQuantize(wt, BlockQuantization.MinMaxEncoding(wt, 0, wt.Dims[0], o.WeightBits, symmetric: true)).Data;
            var yq = Product(xq, wq, rows, k, l.N);
            for (int i = 0; i < y.Length; i++) { double d = y[i] - yq[i]; sum += d * d; }
            count += y.Length;
        }
        return sum / Math.Max(1, count);
    }

    private static float[] Product(float[] x, float[] w, int rows, int k, int n)
    {
        var y = new float[rows * n];
        Gemm.Sgemm(false, false, rows, n, k, 1f, x, k, w, n, 0f, y, n);
        return y;
    }

    private static double OutlierRatio(double[] channelMax)
    {
        var sorted = channelMax.Order().ToArray();
        double median = sorted[sorted.Length / 2];
        return median > 0 ? sorted[^1] / median : double.PositiveInfinity;
    }

    /// <summary>max |x_k| per channel (last axis) of each named value over the feeds.</summary>
    private static Dictionary<string, double[]> ChannelAbsMax(Graph g, Dictionary<string, int> channels, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds)
    {
        var result = new Dictionary<string, double[]>(StringComparer.Ordinal);
        var session = new Session(g);
        foreach (var f in feeds)
            session.Run(f, new RunOptions
            {
                Observed = channels.Keys.ToList(),
                Observer = (name, t) =>
                {
                    if (t is not Tensor<float> x || !channels.TryGetValue(name, out int k) || x.Length % k != 0) return;
                    if (!result.TryGetValue(name, out var m)) result[name] = m = new double[k];
                    var data = x.Data;
                    for (int i = 0; i < x.Length; i++) m[i % k] = Math.Max(m[i % k], Math.Abs(data[i]));
                },
            });
        return result;
    }
}
