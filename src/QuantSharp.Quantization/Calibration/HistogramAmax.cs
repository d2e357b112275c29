namespace QuantSharp.Quantization.Calibration;

/// <summary>The amax selection methods of <see cref="HistogramCalibrator"/>, on a histogram of <c>|x|</c> with bin width <c>w</c>.</summary>
public static class HistogramAmax
{
    /// <summary>Smoothing mass given to a zero bin of Q where P is non-zero (entropy method).</summary>
    public const double Epsilon = 1e-4;

    /// <summary>Percentile method.</summary>
    /// <remarks>amax = <c>(i + 1)·w</c>, the upper edge of the first bin i whose cumulative count reaches
    /// <c>percentile / 100 · total</c>.</remarks>
    /// <param name="counts">Bin counts.</param>
    /// <param name="width">Bin width.</param>
    /// <param name="percentile">Percentile in (0, 100].</param>
    public static float Percentile(ReadOnlySpan<long> counts, double width, double percentile)
    {
        if (!(percentile > 0 && percentile <= 100))
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "HistogramCalibrator: argument 'percentile' expected in (0, 100].");
        long total = 0;
        foreach (long c in counts) total += c;
        double target = percentile / 100.0 * total;
        long cum = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            cum += counts[i];
            if (cum >= target) return (float)((i + 1) * width);
        }
        return (float)(counts.Length * width);
    }

    /// <summary>MSE method.</summary>
    /// <remarks>Candidates are the bin centers <c>c_i = (i + ½)·w</c> for <c>i = startBin, startBin + stride, … &lt; bins</c>.
    /// For candidate amax a, with <c>bound = 2^bits − 1</c> (unsigned) or <c>2^(bits−1) − 1</c> (signed) and
    /// <c>s = bound / a</c>, the error is <c>Σ_j n_j · (min(round(c_j·s), bound)/s − c_j)²</c> (round half to even);
    /// the first candidate with the smallest error is returned.</remarks>
    /// <param name="counts">Bin counts.</param>
    /// <param name="width">Bin width.</param>
    /// <param name="stride">Step between candidates, ≥ 1.</param>
    /// <param name="startBin">First candidate, in [0, bins).</param>
    /// <param name="numBits">Bits, in [2, 16].</param>
    /// <param name="unsigned">Unsigned quantization.</param>
    public static float Mse(ReadOnlySpan<long> counts, double width, int stride, int startBin, int numBits, bool unsigned)
    {
        CheckSearch(counts.Length, stride, startBin, numBits, counts.Length - 1);
        double bound = unsigned ? (1 << numBits) - 1 : (1 << (numBits - 1)) - 1;
        double best = double.PositiveInfinity;
        int bestI = startBin;
        for (int i = startBin; i < counts.Length; i += stride)
        {
            double s = bound / ((i + 0.5) * width);
            double err = 0;
            for (int j = 0; j < counts.Length; j++)
            {
                if (counts[j] == 0) continue;
                double c = (j + 0.5) * width;
                double d = Math.Min(Math.Round(c * s, MidpointRounding.ToEven), bound) / s - c;
                err += counts[j] * d * d;
            }
            if (err < best) { best = err; bestI = i; }
        }
        return (float)((bestI + 0.5) * width);
    }

    /// <summary>Entropy method: TensorRT's KL-divergence calibration.</summary>
    /// <remarks>
    /// Levels <c>L = 2^(bits − 1 + unsigned)</c> (128 for signed 8-bit). For each candidate
    /// <c>i = startBin, startBin + stride, … ≤ bins</c>: reference <c>P_j = n_j</c> for <c>j &lt; i</c> with the outliers
    /// <c>Σ_{j ≥ i} n_j</c> folded into <c>P_{i−1}</c>; bin j &lt; i belongs to level <c>⌊j·L / i⌋</c>, and
    /// <c>Q_j</c> = (sum of <c>n</c> over the level's bins) / (number of non-zero bins in the level) where <c>n_j ≠ 0</c>,
    /// else 0 (P quantized to L levels, spread back over the non-empty bins). P and Q are normalized to sum 1; each
    /// zero of Q where P &gt; 0 is smoothed to <see cref="Epsilon"/> and the rest of Q scaled by <c>1 − k·ε</c> (k such zeros).
    /// <c>KL(P‖Q) = Σ_{P_j &gt; 0} P_j ln(P_j / Q_j)</c>; amax = <c>i·w</c> for the candidate with the smallest KL (the
    /// largest such i on ties). Unlike pytorch-quantization, bin 0 is used as collected (it does not copy bin 1 into
    /// bin 0); use <c>skipZeros</c> to drop a spike of exact zeros.
    /// </remarks>
    /// <param name="counts">Bin counts.</param>
    /// <param name="width">Bin width.</param>
    /// <param name="stride">Step between candidates, ≥ 1.</param>
    /// <param name="startBin">First candidate, in [1, bins].</param>
    /// <param name="numBits">Bits, in [2, 16].</param>
    /// <param name="unsigned">Unsigned quantization.</param>
    public static float Entropy(ReadOnlySpan<long> counts, double width, int stride, int startBin, int numBits, bool unsigned)
    {
        int bins = counts.Length;
        CheckSearch(bins, stride, startBin, numBits, bins);
        if (startBin < 1) throw new ArgumentOutOfRangeException(nameof(startBin), startBin, "HistogramCalibrator: argument 'startBin' expected ≥ 1 for entropy.");
        int levels = 1 << (numBits - 1 + (unsigned ? 1 : 0));
        var suffix = new double[bins + 1];
        for (int j = bins - 1; j >= 0; j--) suffix[j] = suffix[j + 1] + counts[j];
        double total = suffix[0];
        var levelSum = new double[levels];
        var levelNonZero = new int[levels];
        double best = double.PositiveInfinity;
        int bestI = -1;
        for (int i = startBin; i <= bins; i += stride)
        {
            Array.Clear(levelSum);
            Array.Clear(levelNonZero);
            for (int j = 0; j < i; j++)
            {
                if (counts[j] == 0) continue;
                int k = (int)((long)j * levels / i);
                levelSum[k] += counts[j];
                levelNonZero[k]++;
            }
            double qTotal = total - suffix[i];
            if (qTotal <= 0) continue;
            // Smoothing: only the last bin can have P > 0 with Q = 0 (outliers folded into an empty bin).
            double outliers = suffix[i];
            bool lastZeroQ = counts[i - 1] == 0 && outliers > 0;
            double qScale = lastZeroQ ? 1 - Epsilon : 1;
            double kl = 0;
            for (int j = 0; j < i; j++)
            {
                double pj = counts[j] + (j == i - 1 ? outliers : 0);
                if (pj == 0) continue;
                pj /= total;
                double qj;
                if (counts[j] == 0) qj = Epsilon;
                else
                {
                    int k = (int)((long)j * levels / i);
                    qj = levelSum[k] / levelNonZero[k] / qTotal * qScale;
                }
                kl += pj * Math.Log(pj / qj);
            }
            if (kl <= best) { best = kl; bestI = i; }
        }
        if (bestI < 0)
            throw new CalibrationException("HistogramCalibrator: entropy found no candidate with data below it; lower 'startBin'.");
        return (float)(bestI * width);
    }

    private static void CheckSearch(int bins, int stride, int startBin, int numBits, int maxStart)
    {
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, "HistogramCalibrator: argument 'stride' expected ≥ 1.");
        if (numBits < 2 || numBits > 16) throw new ArgumentOutOfRangeException(nameof(numBits), numBits, "HistogramCalibrator: argument 'numBits' expected in [2, 16].");
        if (startBin < 0 || startBin > maxStart)
            throw new ArgumentOutOfRangeException(nameof(startBin), startBin, $"HistogramCalibrator: argument 'startBin' expected in [0, {maxStart}] for a histogram of {bins} bins.");
    }
}
