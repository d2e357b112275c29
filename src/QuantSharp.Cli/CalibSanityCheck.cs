using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Quantization.Analysis;
using QuantSharp.Quantization.Sim;

namespace QuantSharp.Cli;

/// <summary>What <see cref="CalibSanityCheck"/> measured.</summary>
/// <param name="SqnrDb">SQNR of the quantized outputs against FP32 (the worst graph output), in dB.</param>
/// <param name="Samples">Calibration samples measured.</param>
/// <param name="Worst">When <see cref="Poor"/>: the quantizers whose output SQNR is lowest when each alone is enabled (worst first).</param>
/// <param name="SensitivitySamples">Samples the one-at-a-time measurement used (0 when it did not run).</param>
internal sealed record SanityReport(double SqnrDb, int Samples, IReadOnlyList<(string Quantizer, double SqnrDb)> Worst, int SensitivitySamples)
{
    /// <summary>Whether the SQNR is below <see cref="CalibSanityCheck.PoorBelowDb"/>.</summary>
    public bool Poor => SqnrDb < CalibSanityCheck.PoorBelowDb;

    /// <summary>The one-line warning, or null when the outputs are fine.</summary>
    public string? Warning => !Poor ? null : string.Create(CultureInfo.InvariantCulture,
        $"the quantized outputs' SQNR against FP32 on {Samples} calibration samples is {SqnrDb:F1} dB (below {CalibSanityCheck.PoorBelowDb} dB: expect a large accuracy loss); " +
        $"worst quantizers, each alone: {string.Join(", ", Worst.Select(w => $"{w.Quantizer} ({w.SqnrDb:F1} dB)"))}; see 'quantsharp analyze', --exclude-nodes or another --scheme");

    /// <summary>The line for stdout and summary.txt.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"output SQNR against FP32: {SqnrDb:F1} dB on {Samples} calibration samples");
}

/// <summary>
/// The post-calibration sanity check: the calibrated sim against its own float model (every quantizer disabled) on the
/// calibration data, and, when the outputs' SQNR is poor, each enabled quantizer alone on a few samples to name the worst.
/// </summary>
internal static class CalibSanityCheck
{
    /// <summary>
    /// Below this output SQNR the check warns. 20 dB is a noise RMS of 10 % of the outputs' RMS. With calib's defaults the
    /// trained zoo nets measure 31–38 dB on their calibration data and keep top-1 within half a point of FP32
    /// (DefaultsOnTrainedNetsTests); a broken setting (the MobileNetV2-style net at W4A4 per-tensor tf) measures 2 dB.
    /// Between lies the range where logits move enough to flip close decisions, so 20 dB leaves healthy W8A8 models a
    /// wide margin while catching collapses.
    /// </summary>
    public const double PoorBelowDb = 20;

    /// <summary>Samples measured (the first ones of the calibration data).</summary>
    public const int MaxSamples = 256;

    /// <summary>Samples each quantizer alone is run on when the SQNR is poor (one pass per enabled quantizer).</summary>
    public const int SensitivitySamples = 16;

    /// <summary>How many quantizers the warning names.</summary>
    public const int Named = 3;

    /// <summary>Measures <paramref name="sim"/> against its float model on the first samples of <paramref name="data"/>.</summary>
    public static SanityReport Run(QuantizationSimModel sim, FeedSet data, int batchSize)
    {
        int samples = Math.Min(data.Count, MaxSamples);
        var enabled = sim.Quantizers.Values.Where(q => q.Enabled).ToList();
        // Batch by batch, so only one batch's outputs are held (segmentation outputs can be large).
        var totals = OutputSqnr.For(sim.Model);
        foreach (var (x, _) in data.Select(Enumerable.Range(0, samples).ToArray()).Batches(batchSize))
        {
            var reference = sim.WithOnlyEnabled([], () => sim.FloatOutputs(x));
            totals.Add(reference, sim.FloatOutputs(x), x);
        }
        double sqnr = totals.WorstDb;
        List<(string, double)> worst = [];
        int sensitivitySamples = 0;
        if (sqnr < PoorBelowDb)
        {
            sensitivitySamples = Math.Min(samples, SensitivitySamples);
            var few = data.Take(0, sensitivitySamples);
            var fewReference = sim.WithOnlyEnabled([], () => sim.FloatOutputs(few));
            worst = enabled.Select(q => (q.Name, sim.WithOnlyEnabled([q], () =>
                {
                    var alone = OutputSqnr.For(sim.Model);
                    alone.Add(fewReference, sim.FloatOutputs(few), few);
                    return alone.WorstDb;
                })))
                .OrderBy(w => w.Item2).Take(Named).ToList();
        }
        return new SanityReport(sqnr, samples, worst, sensitivitySamples);
    }
}
