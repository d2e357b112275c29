using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Export;

namespace QuantSharp.Quantization.Techniques;

/// <summary>One group of layers <see cref="SmoothQuant"/> rescaled: the layers reading one activation.</summary>
/// <param name="Input">The activation the layers read.</param>
/// <param name="Layers">The MatMul/Gemm nodes (Q, K and V share one input and one scale).</param>
/// <param name="ActivationAbsMaxBefore">Largest |x| over every channel before: what sets an 8-bit per-tensor step.</param>
/// <param name="ActivationAbsMaxAfter">The same after dividing by s.</param>
/// <param name="OutlierRatioBefore">Largest channel |x| max over the median channel's: how badly outliers stretch the grid.</param>
/// <param name="OutlierRatioAfter">The same after.</param>
public sealed record SmoothQuantGroup(string Input, IReadOnlyList<string> Layers, double ActivationAbsMaxBefore, double ActivationAbsMaxAfter,
    double OutlierRatioBefore, double OutlierRatioAfter);

/// <summary>What <see cref="SmoothQuant.Apply"/> did.</summary>
/// <param name="Graph">The smoothed graph (its float function unchanged up to rounding).</param>
/// <param name="Alpha">The migration strength.</param>
/// <param name="Groups">Each rescaled group.</param>
public sealed record SmoothQuantResult(Graph Graph, double Alpha, IReadOnlyList<SmoothQuantGroup> Groups) : IGraphPassResult
{
    /// <inheritdoc />
    public EncodingsFile? ParamEncodings => null;

    /// <summary>One line per group for a summary.</summary>
    public override string ToString() => string.Join('\n', Groups.Select(g => string.Create(CultureInfo.InvariantCulture,
        $"smoothquant {g.Input} → {string.Join(", ", g.Layers)}: |x| max {g.ActivationAbsMaxBefore:G4} → {g.ActivationAbsMaxAfter:G4}, outlier ratio {g.OutlierRatioBefore:F1} → {g.OutlierRatioAfter:F1}")).Prepend(
        $"smoothquant (α = {Alpha.ToString(CultureInfo.InvariantCulture)}): {Groups.Count} group(s)"));
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
/// which must keep the unscaled values. The sim then quantizes the Mul's output (the scaled activation), as a runtime would.
/// It pays off where the activation is quantized only as the MatMul's input (TensorRT-style input quantizers,
/// <c>--config tensorrt</c>): under output quantization (the AIMET-style presets) the producer's own output is quantized
/// before the division, outliers and all, and the smoothed copy only adds a second rounding. Folding 1/s into the
/// producer (LayerNorm's γ and β) where nothing else reads it is not done yet.</para>
/// <para>α trades the two difficulties: 0 leaves activations alone, 1 moves all of it into weights; 0.5 is the paper's
/// default for most models. On all-MiniLM-L6-v2 (W8A8 with input quantizers on MatMuls only) α = 0.5 lowered the
/// sentence-embedding cosine to FP32 from 0.989 to 0.978: that model's activation error is not dominated by channel
/// outliers, so the option is off by default.</para>
/// </remarks>
public static class SmoothQuant
{
    /// <summary>Smooths every group of MatMul/Gemm layers with constant 2-D weights of <paramref name="graph"/> (not modified).</summary>
    /// <exception cref="ArgumentException">α outside [0, 1] or feeds that miss an input.</exception>
    public static SmoothQuantResult Apply(Graph graph, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, double alpha = 0.5)
    {
        if (!(alpha >= 0 && alpha <= 1)) throw new ArgumentException($"SmoothQuant: alpha expected a migration strength in [0, 1], got {alpha.ToString(CultureInfo.InvariantCulture)}", nameof(alpha));
        var g = graph.Clone();
        g.EnsureNodeNames();
        var groups = Blockwise.LinearLayer.Find(g).GroupBy(l => l.Node.Inputs[0]).Where(x => x.Select(l => l.K).Distinct().Count() == 1).ToList();
        var absMax = ChannelAbsMax(g, groups.ToDictionary(x => x.Key, x => x.First().K, StringComparer.Ordinal), feeds);
        var report = new List<SmoothQuantGroup>();
        foreach (var group in groups)
        {
            if (!absMax.TryGetValue(group.Key, out var a)) continue;
            int k = a.Length;
            var layers = group.ToList();
            var wMax = new double[k];
            foreach (var l in layers)
            {
                var w = l.Read(g);
                for (int i = 0; i < k; i++)
                    for (int n = 0; n < l.N; n++) wMax[i] = Math.Max(wMax[i], Math.Abs(w[i * l.N + n]));
            }
            var s = new float[k];
            for (int i = 0; i < k; i++)
                s[i] = a[i] > 0 && wMax[i] > 0 ? (float)Math.Clamp(Math.Pow(a[i], alpha) / Math.Pow(wMax[i], 1 - alpha), 1e-5, 1e5) : 1f;
            Blockwise.LinearLayer.ScaleInputs(g, layers, s, "smoothquant");
            var after = a.Select((v, i) => v / s[i]).ToArray();
            report.Add(new SmoothQuantGroup(group.Key, group.Select(l => l.Node.Name).ToList(), a.Max(), after.Max(), OutlierRatio(a), OutlierRatio(after)));
        }
        return new SmoothQuantResult(g, alpha, report);
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
