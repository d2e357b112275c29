using QuantSharp.Engine;

namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// Signal-to-quantization-noise ratio of a model's float outputs against reference outputs, accumulated batch by batch
/// (so only one batch's outputs are held): 10·log10(Σ ref² / Σ (ref − actual)²) per output; the model's figure is its worst
/// output. A non-finite output counts as −∞. Given the model's attention-mask input (<see cref="PaddingMask"/>), padded
/// positions of [batch, sequence, …] outputs are not counted.
/// </summary>
/// <param name="maskInput">The attention-mask input whose zeros mark padding (<see cref="PaddingMask.InputOf"/>), or null.</param>
public sealed class OutputSqnr(string? maskInput = null)
{
    private readonly Dictionary<string, SqnrSums> _sums = new(StringComparer.Ordinal);

    /// <summary>An accumulator that skips padding when <paramref name="model"/> has an attention-mask input.</summary>
    public static OutputSqnr For(Graph model) => new(PaddingMask.InputOf(model));

    /// <summary>
    /// Adds one batch: <paramref name="reference"/> and <paramref name="actual"/> hold the same outputs with the same shapes;
    /// <paramref name="feeds"/> (the batch's inputs) give the attention mask, if any.
    /// </summary>
    /// <exception cref="ArgumentException">An output missing from <paramref name="actual"/>.</exception>
    /// <exception cref="ShapeException">An output of another shape than its reference.</exception>
    public void Add(IReadOnlyDictionary<string, Tensor<float>> reference, IReadOnlyDictionary<string, Tensor<float>> actual,
        IReadOnlyDictionary<string, Tensor>? feeds = null)
    {
        foreach (var (name, t) in reference)
        {
            if (!actual.TryGetValue(name, out var other)) throw new ArgumentException($"output '{name}': the reference has it, the actual outputs do not");
            if (!_sums.TryGetValue(name, out var sums)) _sums[name] = sums = new SqnrSums();
            sums.Add(t, other, $"output '{name}'", PaddingMask.Valid(maskInput, feeds, t.Dims));
        }
    }

    /// <summary>The SQNR of each output so far, in dB (+∞ when equal to the reference).</summary>
    public IReadOnlyDictionary<string, double> PerOutputDb => _sums.ToDictionary(p => p.Key, p => Db(p.Value), StringComparer.Ordinal);

    /// <summary>The lowest SQNR over the outputs so far, in dB (+∞ before any batch).</summary>
    public double WorstDb => _sums.Count == 0 ? double.PositiveInfinity : _sums.Values.Min(Db);

    // A zero signal with noise, or a NaN from non-finite outputs, counts as the worst.
    private static double Db(SqnrSums s) => s.Noise == 0 ? double.PositiveInfinity : s.Signal == 0 || double.IsNaN(s.Db) ? double.NegativeInfinity : s.Db;
}
