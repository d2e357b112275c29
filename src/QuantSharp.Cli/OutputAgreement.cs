using QuantSharp.Engine;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Cli;

/// <summary>How close one output of the quantized model came to FP32 over every sample of a label-free test.</summary>
/// <param name="Name">The graph output.</param>
/// <param name="SqnrDb">10·log10(Σ ref² / Σ (ref − q)²) over all samples (∞ when identical).</param>
/// <param name="MeanCosine">Mean over samples of the cosine similarity of the sample's flattened output (1 when both are zero); padded positions left out.</param>
/// <param name="MaxAbsError">max |ref − q|.</param>
/// <param name="ArgMaxAgreement">For [N, C] outputs with C &gt; 1: the fraction of samples with the same argmax; else null.</param>
/// <param name="Samples">Samples compared.</param>
internal sealed record OutputAgreementRow(string Name, double SqnrDb, double MeanCosine, double MaxAbsError, double? ArgMaxAgreement, int Samples);

/// <summary>
/// Accumulates, batch by batch, the agreement of a quantized model's float outputs with FP32's on the same feeds (what
/// <c>test</c> reports when there are no labels). Non-float outputs are not compared. With the model's attention-mask input
/// (<see cref="Quantization.Analysis.PaddingMask"/>), padded positions of [batch, sequence, …] outputs are left out of every figure.
/// </summary>
/// <param name="maskInput">The model's attention-mask input, or null.</param>
internal sealed class OutputAgreement(string? maskInput = null) : IEvaluationMetric
{
    private sealed class Sums
    {
        public double Signal, Noise, MaxAbs, CosineSum;
        public int Samples, ArgMaxSame;
        public bool Classifier = true;
    }

    private readonly Dictionary<string, Sums> _sums = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    /// <inheritdoc />
    public string Name => "agreement";

    /// <inheritdoc />
    public void Add(IReadOnlyDictionary<string, Tensor> reference, IReadOnlyDictionary<string, Tensor> quantized, ReadOnlySpan<int> labels) =>
        Add(reference, quantized);

    /// <inheritdoc />
    public void Add(IReadOnlyDictionary<string, Tensor> feeds, IReadOnlyDictionary<string, Tensor> reference, IReadOnlyDictionary<string, Tensor> quantized, ReadOnlySpan<int> labels) =>
        Add(reference, quantized, feeds);

    /// <inheritdoc />
    public IReadOnlyList<MetricValue> Results() => Rows.SelectMany(r => new[]
    {
        new MetricValue("sqnr_db", r.Name, r.SqnrDb), new MetricValue("mean_cosine", r.Name, r.MeanCosine), new MetricValue("max_abs_error", r.Name, r.MaxAbsError),
    }.Concat(r.ArgMaxAgreement is { } a ? [new MetricValue("argmax_agreement", r.Name, a)] : [])).ToList();

    /// <summary>Adds one batch: <paramref name="reference"/> and <paramref name="actual"/> outputs by name.</summary>
    /// <exception cref="ShapeException">An output whose shapes differ.</exception>
    public void Add(IReadOnlyDictionary<string, Tensor> reference, IReadOnlyDictionary<string, Tensor> actual, IReadOnlyDictionary<string, Tensor>? feeds = null)
    {
        foreach (var (name, r) in reference)
        {
            if (r is not Tensor<float> rf || !actual.TryGetValue(name, out var a) || a is not Tensor<float> af) continue;
            Check.SameShape($"test output '{name}'", "quantized", rf.Dims, af.Dims);
            if (!_sums.TryGetValue(name, out var s)) { _sums[name] = s = new Sums(); _order.Add(name); }
            int n = rf.Rank == 0 ? 1 : rf.Dims[0], per = rf.Length / Math.Max(1, n);
            s.Classifier &= rf.Rank == 2 && per > 1;
            var valid = Quantization.Analysis.PaddingMask.Valid(maskInput, feeds, rf.Dims);
            int inner = valid is null ? per : rf.Length / valid.Length;
            for (int i = 0; i < n; i++)
            {
                var x = rf.AsSpan().Slice(i * per, per);
                var y = af.AsSpan().Slice(i * per, per);
                double dot = 0, xx = 0, yy = 0;
                int bx = 0, by = 0;
                for (int k = 0; k < per; k++)
                {
                    if (valid is not null && !valid[(i * per + k) / inner]) continue;
                    double d = (double)x[k] - y[k];
                    s.Noise += d * d;
                    s.MaxAbs = Math.Max(s.MaxAbs, Math.Abs(d));
                    dot += (double)x[k] * y[k];
                    xx += (double)x[k] * x[k];
                    yy += (double)y[k] * y[k];
                    if (x[k] > x[bx]) bx = k;
                    if (y[k] > y[by]) by = k;
                }
                s.Signal += xx;
                s.CosineSum += xx == 0 || yy == 0 ? (xx == yy ? 1 : 0) : dot / Math.Sqrt(xx * yy);
                if (bx == by) s.ArgMaxSame++;
                s.Samples++;
            }
        }
    }

    /// <summary>One row per compared output, in the order first seen.</summary>
    public IReadOnlyList<OutputAgreementRow> Rows => _order.Select(name =>
    {
        var s = _sums[name];
        double sqnr = s.Noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(s.Signal / s.Noise);
        return new OutputAgreementRow(name, sqnr, s.Samples == 0 ? double.NaN : s.CosineSum / s.Samples, s.MaxAbs,
            s.Classifier && s.Samples > 0 ? (double)s.ArgMaxSame / s.Samples : null, s.Samples);
    }).ToList();
}
