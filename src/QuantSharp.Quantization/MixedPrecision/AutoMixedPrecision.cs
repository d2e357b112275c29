using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Quantization.Analysis;
using QuantSharp.Quantization.Encodings;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Quantization.MixedPrecision;

/// <summary>
/// Automatic mixed precision for activations (AIMET AMP, ONNX Runtime's A16W8 mixed precision): within a budget on the
/// outputs' SQNR against FP32, raise the fewest activation quantizers of a calibrated sim to 16 bits (or float), chosen by
/// measured sensitivity.
/// </summary>
/// <remarks>
/// <para>Phase 1 measures each candidate alone raised (one forward pass each over the measurement samples, against FP32
/// outputs computed once with every quantizer off). Phase 2 walks the candidates from the largest gain down, raising one at
/// a time and keeping it only when the outputs' SQNR actually improves with the earlier choices in place — errors from
/// different quantizers are not additive (on all-MiniLM-L6-v2 the best 15 gains measured alone added up to far more than
/// raising all 15 gave), so each choice is confirmed by a pass rather than trusted from phase 1; and a quantizer whose gain
/// alone was nil may matter once a dominant error is gone, so the walk does not stop at the first nil gain. It stops at the
/// target, at the limit (<see cref="AmpOptions.MaxRaisedFraction"/>), or when no candidate is left.</para>
/// <para>A raised quantizer's 16-bit encoding covers the full range seen in calibration (min/max: at 16 bits clipping
/// outliers buys nothing), with the quantizer's own symmetry. The QDQ export writes it as int16/uint16 at opset 21, which
/// ONNX Runtime runs; raising to float disables the quantizer, so the export leaves that tensor in float.</para>
/// </remarks>
public static class AutoMixedPrecision
{
    /// <summary>Raises activation quantizers of <paramref name="sim"/> (calibrated) in place, measuring on <paramref name="batches"/>.</summary>
    /// <param name="sim">A calibrated simulation; its raised quantizers keep their new encodings.</param>
    /// <param name="batches">Measurement samples (e.g. the first calibration samples), as feeds of the sim's inputs.</param>
    /// <param name="options">Budget and limits.</param>
    /// <exception cref="ArgumentException">No batches, or bad options (named).</exception>
    public static AmpReport Run(QuantizationSimModel sim, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> batches, AmpOptions? options = null)
    {
        options ??= new AmpOptions();
        options.Validate();
        if (batches.Count == 0) throw new ArgumentException("AutoMixedPrecision: expected at least one batch of measurement samples, got none");
        var watch = Stopwatch.StartNew();
        var references = batches.Select(b => sim.WithOnlyEnabled([], () => sim.FloatOutputs(b))).ToList();
        int evaluations = 0;
        double Measure()
        {
            evaluations++;
            var sqnr = OutputSqnr.For(sim.Model);
            for (int i = 0; i < batches.Count; i++) sqnr.Add(references[i], sim.FloatOutputs(batches[i]), batches[i]);
            return sqnr.WorstDb;
        }

        var candidates = sim.ActivationQuantizers
            .Where(q => q.Enabled && !q.IsFrozen && q.Encoding is { DataType: EncodingDataType.Int, IsPerChannel: false } e && e.BitWidth < 16)
            .OrderBy(q => q.Name, StringComparer.Ordinal).ToList();
        int maxRaised = Math.Max(1, (int)Math.Floor(options.MaxRaisedFraction * candidates.Count));
        double baseDb = Measure(), current = baseDb;
        var raised = new List<AmpChoice>();
        if (current < options.TargetSqnrDb && candidates.Count > 0)
        {
            var ranked = candidates.Select(q =>
                {
                    var undo = Raise(q, options.RaisedBitWidth);
                    double gain = Measure() - baseDb;
                    undo();
                    return (Quantizer: q, Gain: gain);
                })
                .OrderByDescending(c => c.Gain).ThenBy(c => c.Quantizer.Name, StringComparer.Ordinal).ToList();
            foreach (var (q, gain) in ranked)
            {
                if (raised.Count >= maxRaised || current >= options.TargetSqnrDb) break;
                var undo = Raise(q, options.RaisedBitWidth);
                double db = Measure();
                if (db <= current)
                {
                    undo();
                    continue;
                }
                current = db;
                raised.Add(new AmpChoice(q.Name, gain, db));
            }
        }
        int samples = batches.Sum(b => b.Values.FirstOrDefault() is { Rank: > 0 } t ? t.Dims[0] : 1);
        return new AmpReport(baseDb, current, options.TargetSqnrDb, candidates.Count, maxRaised, raised, evaluations, samples, watch.Elapsed);
    }

    /// <summary>Raises <paramref name="q"/> to <paramref name="bitWidth"/> (0: float) and returns what undoes it.</summary>
    private static Action Raise(SimQuantizer q, int bitWidth)
    {
        if (bitWidth == 0)
        {
            q.Enabled = false;
            return () => q.Enabled = true;
        }
        var old = q.Encoding!;
        var (min, max) = q.CalibrationSpread is { } s ? ((double)s.Min, (double)s.Max) : (old.Min, old.Max);
        q.Encoding = Encoding.FromMinMax(min, max, bitWidth, old.Symmetric, old.StrictSymmetric, old.UnsignedSymmetric);
        return () => q.Encoding = old;
    }
}
