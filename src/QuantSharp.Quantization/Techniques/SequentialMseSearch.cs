using QuantSharp.Engine;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Techniques;

/// <summary>The error sequential MSE minimises over a layer's output.</summary>
public enum SeqMseLoss
{
    /// <summary>Mean squared error <c>Σ (y_q − y)² / n</c>.</summary>
    Mse,

    /// <summary>Mean absolute error <c>Σ |y_q − y| / n</c>.</summary>
    L1,

    /// <summary>Noise-to-signal ratio <c>Σ (y_q − y)² / Σ y²</c> (minimising it maximises the SQNR).</summary>
    Sqnr,
}

/// <summary>How a weight is quantized: the settings of its quantizer that shape the encoding.</summary>
/// <param name="BitWidth">2..31.</param>
/// <param name="Symmetric">Symmetric grid about zero.</param>
/// <param name="StrictSymmetric">Symmetric without the lowest signed level.</param>
/// <param name="UnsignedSymmetric">Symmetric, with the unsigned grid for a channel with no negative value.</param>
/// <param name="Axis">Per-channel axis, or null for one encoding over the tensor.</param>
public sealed record SeqMseWeightSpec(int BitWidth, bool Symmetric, bool StrictSymmetric = false, bool UnsignedSymmetric = false, int? Axis = null);

/// <summary>The outcome of <c>SequentialMseSearch.Search</c>.</summary>
/// <param name="Encoding">The chosen weight encoding.</param>
/// <param name="Fractions">Chosen fraction of the full range per encoding channel (one value when per-tensor).</param>
/// <param name="LossFullRange">The loss with the full-range (min/max) encoding.</param>
/// <param name="LossBest">The loss with the chosen encoding.</param>
public sealed record SeqMseSearchResult(Encoding Encoding, double[] Fractions, double LossFullRange, double LossBest);

/// <summary>
/// Sequential MSE's candidate search on tensors (AIMET <c>apply_seq_mse</c>): chooses the range of a Conv/Gemm weight
/// encoding that minimises the error of the layer's output, given the layer's (quantized-model) inputs and FP32 outputs.
/// </summary>
/// <remarks>
/// <para>Candidates: fractions <c>f_k = f₀ + (1 − f₀)·k/(K − 1)</c>, k = 0..K−1 (f₀ = 0.1, K = 20 by default), each giving
/// the encoding of the range <c>(f_k·min_c, f_k·max_c)</c> per channel c (min/max of the weight, per channel or over the
/// tensor). For each candidate the weight is quantized to its grid (nearest rounding), the layer output
/// <c>y_k = layer(x_q; Q_k(W))</c> computed over all inputs, and the error <c>e_k,o</c> of each output channel o against
/// y_fp accumulated.</para>
/// <para>When the encoding is per-channel on the layer's output-channel axis, output channel o depends only on weight
/// channel o, so each channel takes its own best candidate <c>argmin_k e_k,o</c>. Otherwise one candidate is chosen for
/// the tensor, minimising the error over all outputs (for <see cref="SeqMseLoss.Sqnr"/>: <c>Σ_o noise / Σ_o signal</c>).</para>
/// </remarks>
public static class SequentialMseSearch
{
    /// <summary>The K candidate fractions, linear from <paramref name="minFraction"/> to 1 (just 1 when K = 1).</summary>
    /// <exception cref="ArgumentException">K &lt; 1, or a fraction outside (0, 1].</exception>
    public static double[] Candidates(int count, double minFraction = 0.1)
    {
        if (count < 1) throw new ArgumentException($"SequentialMseSearch.Candidates: argument 'count' expected >= 1, got {count}", nameof(count));
        if (!(minFraction > 0 && minFraction <= 1)) throw new ArgumentException($"SequentialMseSearch.Candidates: argument 'minFraction' expected in (0, 1], got {minFraction}", nameof(minFraction));
        if (count == 1) return [1.0];
        return Enumerable.Range(0, count).Select(k => minFraction + (1 - minFraction) * k / (count - 1)).ToArray();
    }

    /// <summary>Per-channel (or per-tensor: one entry) minimum and maximum of <paramref name="weight"/> under <paramref name="spec"/>.</summary>
    /// <exception cref="ShapeException">A per-channel axis outside the weight's rank.</exception>
    public static (double[] Min, double[] Max) Ranges(Tensor<float> weight, SeqMseWeightSpec spec)
    {
        int channels = 1, inner = weight.Length;
        if (spec.Axis is { } axis)
        {
            Check.Axis("SequentialMseSearch.Ranges", "spec.Axis", axis, weight.Rank);
            channels = weight.Dims[axis];
            inner = 1;
            for (int d = axis + 1; d < weight.Rank; d++) inner *= weight.Dims[d];
        }
        var min = new double[channels];
        var max = new double[channels];
        var w = weight.Data;
        for (int i = 0; i < w.Length; i++)
        {
            int c = channels == 1 ? 0 : i / inner % channels;
            min[c] = Math.Min(min[c], w[i]);
            max[c] = Math.Max(max[c], w[i]);
        }
        return (min, max);
    }

    /// <summary>The encoding of the ranges scaled by <paramref name="fractions"/> (one per channel): <c>(f_c·min_c, f_c·max_c)</c>.</summary>
    public static Encoding EncodingFor(double[] min, double[] max, double[] fractions, SeqMseWeightSpec spec)
    {
        var lo = new double[min.Length];
        var hi = new double[min.Length];
        for (int c = 0; c < min.Length; c++) { lo[c] = min[c] * fractions[c]; hi[c] = max[c] * fractions[c]; }
        return spec.Axis is { } axis
            ? Encoding.FromMinMaxPerChannel(lo, hi, axis, spec.BitWidth, spec.Symmetric, spec.StrictSymmetric, spec.UnsignedSymmetric)
            : Encoding.FromMinMax(lo[0], hi[0], spec.BitWidth, spec.Symmetric, spec.StrictSymmetric, spec.UnsignedSymmetric);
    }

    /// <summary>
    /// Adds the error of <paramref name="y"/> against <paramref name="target"/> (both [N, C, P…]) per channel to
    /// <paramref name="error"/> (squared or absolute as <paramref name="loss"/> says) and <c>Σ target²</c> per channel to
    /// <paramref name="signal"/>. Returns the values per channel added (N·P).
    /// </summary>
    public static long AccumulateChannelErrors(ReadOnlySpan<float> y, ReadOnlySpan<float> target, int batch, int channels, SeqMseLoss loss,
        Span<double> error, Span<double> signal)
    {
        int plane = y.Length / Math.Max(1, batch * channels);
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
            {
                int start = (n * channels + c) * plane;
                double e = 0, s = 0;
                for (int p = start; p < start + plane; p++)
                {
                    double d = y[p] - target[p];
                    e += loss == SeqMseLoss.L1 ? Math.Abs(d) : d * d;
                    s += (double)target[p] * target[p];
                }
                error[c] += e;
                signal[c] += s;
            }
        return (long)batch * plane;
    }

    /// <summary>The loss of accumulated errors: the mean over <paramref name="count"/> values per channel, or noise / signal for <see cref="SeqMseLoss.Sqnr"/>.</summary>
    public static double Combine(SeqMseLoss loss, ReadOnlySpan<double> error, ReadOnlySpan<double> signal, long count)
    {
        double e = 0, s = 0;
        foreach (double v in error) e += v;
        foreach (double v in signal) s += v;
        return loss == SeqMseLoss.Sqnr ? e / Math.Max(s, double.Epsilon) : e / Math.Max(1, count * error.Length);
    }

    /// <summary>
    /// Searches the encoding of <paramref name="weight"/> (see the class remarks). <paramref name="inputs"/> [N, …] are the
    /// layer inputs, <paramref name="targets"/> the FP32 outputs; the layer runs in chunks of <paramref name="chunk"/> samples.
    /// </summary>
    /// <exception cref="ShapeException">Weight or targets of the wrong shape.</exception>
    public static SeqMseSearchResult Search(AdaRoundLayer layer, Tensor<float> weight, SeqMseWeightSpec spec, Tensor<float> inputs,
        Tensor<float> targets, int numCandidates = 20, SeqMseLoss loss = SeqMseLoss.Mse, double minFraction = 0.1, int chunk = 64)
    {
        const string op = "SequentialMseSearch.Search";
        Check.SameShape(op, "weight", layer.WeightShape, weight.Dims);
        Check.SameShape(op, "targets", layer.OutputShape(inputs.Dims), targets.Dims);
        chunk = Math.Clamp(chunk, 1, Math.Max(1, inputs.Dims[0]));
        return Search(layer, weight, spec, numCandidates, loss, minFraction, (wq, error, signal) => Errors(layer, wq, inputs, targets, chunk, loss, error, signal));
    }

    /// <summary>
    /// <see cref="Search(AdaRoundLayer, Tensor{float}, SeqMseWeightSpec, Tensor{float}, Tensor{float}, int, SeqMseLoss, double, int)"/>
    /// with each candidate's error from the layer's exact objective (<see cref="LayerGramObjective.ChannelErrors"/>): no
    /// pass over the data per candidate. Squared-error losses only (<see cref="SeqMseLoss.Mse"/>, <see cref="SeqMseLoss.Sqnr"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The L1 loss, which is not a quadratic form.</exception>
    public static SeqMseSearchResult Search(AdaRoundLayer layer, Tensor<float> weight, SeqMseWeightSpec spec, LayerGramObjective objective,
        int numCandidates = 20, SeqMseLoss loss = SeqMseLoss.Mse, double minFraction = 0.1)
    {
        if (loss == SeqMseLoss.L1) throw new ArgumentException("SequentialMseSearch.Search: the exact objective gives squared errors; the L1 loss needs the captured data", nameof(loss));
        Check.SameShape("SequentialMseSearch.Search", "weight", layer.WeightShape, weight.Dims);
        return Search(layer, weight, spec, numCandidates, loss, minFraction, (wq, error, signal) => objective.ChannelErrors(wq.AsSpan(), error, signal));
    }

    /// <summary>Fills a candidate weight's error and signal per output channel; returns the values per channel they sum.</summary>
    private delegate long ChannelErrorSource(Tensor<float> weight, double[] error, double[] signal);

    private static SeqMseSearchResult Search(AdaRoundLayer layer, Tensor<float> weight, SeqMseWeightSpec spec, int numCandidates, SeqMseLoss loss,
        double minFraction, ChannelErrorSource errorsOf)
    {
        var fractions = Candidates(numCandidates, minFraction);
        var (min, max) = Ranges(weight, spec);
        int outAxis = layer.ConvParams is not null || layer.TransB ? 0 : 1;
        bool separable = spec.Axis == outAxis && min.Length == layer.OutputChannels;
        int m = layer.OutputChannels;

        var errors = new double[fractions.Length][];
        var signals = new double[fractions.Length][];
        long count = 0;
        var wq = new Tensor<float>(weight.Dims);
        for (int k = 0; k < fractions.Length; k++)
        {
            var f = Enumerable.Repeat(fractions[k], min.Length).ToArray();
            new AdaRoundGrid(weight, EncodingFor(min, max, f, spec)).Nearest(weight.AsSpan(), wq.AsSpan());
            (errors[k], signals[k]) = (new double[m], new double[m]);
            count = errorsOf(wq, errors[k], signals[k]);
        }

        double[] chosen;
        if (separable)
        {
            chosen = new double[m];
            for (int o = 0; o < m; o++)
            {
                int best = fractions.Length - 1;
                for (int k = 0; k < fractions.Length; k++)
                    if (ChannelLoss(loss, errors[k][o], signals[k][o]) < ChannelLoss(loss, errors[best][o], signals[best][o])) best = k;
                chosen[o] = fractions[best];
            }
        }
        else
        {
            int best = fractions.Length - 1;
            for (int k = 0; k < fractions.Length; k++)
                if (Combine(loss, errors[k], signals[k], count) < Combine(loss, errors[best], signals[best], count)) best = k;
            chosen = Enumerable.Repeat(fractions[best], min.Length).ToArray();
        }
        var encoding = EncodingFor(min, max, chosen, spec);
        new AdaRoundGrid(weight, encoding).Nearest(weight.AsSpan(), wq.AsSpan());
        double[] e = new double[m], s = new double[m];
        errorsOf(wq, e, s);
        int full = fractions.Length - 1;
        return new SeqMseSearchResult(encoding, chosen, Combine(loss, errors[full], signals[full], count), Combine(loss, e, s, count));
    }

    private static double ChannelLoss(SeqMseLoss loss, double error, double signal) =>
        loss == SeqMseLoss.Sqnr ? error / Math.Max(signal, double.Epsilon) : error;

    private static long Errors(AdaRoundLayer layer, Tensor<float> weight, Tensor<float> inputs, Tensor<float> targets, int chunk,
        SeqMseLoss loss, double[] error, double[] signal)
    {
        int total = inputs.Dims[0], xRow = inputs.Length / Math.Max(1, total), tRow = targets.Length / Math.Max(1, total);
        long count = 0;
        int[] xs = inputs.Shape, ts = targets.Shape;
        for (int start = 0; start < total; start += chunk)
        {
            int n = Math.Min(chunk, total - start);
            xs[0] = n;
            ts[0] = n;
            var xb = new Tensor<float>(xs);
            Array.Copy(inputs.Data, (long)start * xRow, xb.Data, 0, (long)n * xRow);
            var y = new Tensor<float>(ts);
            layer.Forward(xb, weight, y);
            count += AccumulateChannelErrors(y.AsSpan(), targets.AsSpan().Slice(start * tRow, n * tRow), n, layer.OutputChannels, loss, error, signal);
        }
        return count;
    }
}
