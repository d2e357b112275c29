using QuantSharp.Engine;

namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// Signal-to-quantization-noise ratio of a model's float outputs against reference outputs, accumulated batch by batch
/// (so only one batch's outputs are held): 10·log10(Σ ref² / Σ (ref − actual)²) per output; the model's figure is its worst
/// output. A non-finite output counts as −∞.
/// </summary>
public sealed class OutputSqnr
{
    private readonly Dictionary<string, (double Signal, double Noise)> _totals = new(StringComparer.Ordinal);

    /// <summary>Adds one batch: <paramref name="reference"/> and <paramref name="actual"/> hold the same outputs with the same shapes.</summary>
    /// <exception cref="ArgumentException">An output missing from <paramref name="actual"/> or of another length.</exception>
    public void Add(IReadOnlyDictionary<string, Tensor<float>> reference, IReadOnlyDictionary<string, Tensor<float>> actual)
    {
        foreach (var (name, t) in reference)
        {
            if (!actual.TryGetValue(name, out var other) || other.Length != t.Length)
                throw new ArgumentException($"output '{name}': expected {t.Length} values like the reference, got {(other is null ? "none" : other.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))}");
            var r = t.AsSpan();
            var a = other.AsSpan();
            double signal = 0, noise = 0;
            for (int i = 0; i < r.Length; i++)
            {
                double d = (double)r[i] - a[i];
                signal += (double)r[i] * r[i];
                noise += d * d;
            }
            var (s0, n0) = _totals.GetValueOrDefault(name);
            _totals[name] = (s0 + signal, n0 + noise);
        }
    }

    /// <summary>The SQNR of each output so far, in dB (+∞ when equal to the reference).</summary>
    public IReadOnlyDictionary<string, double> PerOutputDb => _totals.ToDictionary(p => p.Key, p => Db(p.Value.Signal, p.Value.Noise), StringComparer.Ordinal);

    /// <summary>The lowest SQNR over the outputs so far, in dB (+∞ before any batch).</summary>
    public double WorstDb => _totals.Count == 0 ? double.PositiveInfinity : _totals.Values.Min(t => Db(t.Signal, t.Noise));

    private static double Db(double signal, double noise)
    {
        double db = noise == 0 ? double.PositiveInfinity : signal == 0 ? double.NegativeInfinity : 10 * Math.Log10(signal / noise);
        return double.IsNaN(db) ? double.NegativeInfinity : db;
    }
}
