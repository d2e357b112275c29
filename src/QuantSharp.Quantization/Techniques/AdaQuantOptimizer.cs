using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Techniques;

/// <summary>What AdaQuant did to one layer.</summary>
/// <param name="Weight">The tuned weight, on its encoding grid: every element is <c>s·clamp(round(u), QMin, QMax)</c>.</param>
/// <param name="Bias">The tuned bias (a new tensor), or null when the layer has none or the bias was not tuned.</param>
/// <param name="MseBefore">Mean squared error of the layer output against the FP32 output over all cached data, nearest-rounded original weight.</param>
/// <param name="MseAfter">The same with the tuned weight and bias (equal to <paramref name="MseBefore"/> when reverted).</param>
/// <param name="Reverted">The optimisation ended worse than nearest rounding, so the nearest-rounded original is returned.</param>
/// <param name="Elapsed">Wall time of the optimisation.</param>
public sealed record AdaQuantLayerResult(Tensor<float> Weight, Tensor<float>? Bias, double MseBefore, double MseAfter, bool Reverted, TimeSpan Elapsed);

/// <summary>
/// AdaQuant's per-layer optimisation on tensors: tunes a Conv/Gemm weight (through its frozen weight quantizer, straight-through)
/// and its bias so that the quantized layer on the quantized-model inputs reproduces the FP32 layer's outputs.
/// </summary>
/// <remarks>
/// <para>Objective: <c>L(u, b) = ‖layer(x_q; s·clamp(round(u), QMin, QMax), b) − y_fp‖²</c>, summed over output channels and
/// averaged over batch and positions (<see cref="AdaRoundKernels.ReconstructionLoss"/>), with <c>u = w/s</c> the weight in
/// grid units of the encoding computed once from the original weight and kept (as AIMET and Vitis AI freeze the param
/// encoding) and gradients through <c>round</c> by the straight-through estimator (<see cref="AdaQuantKernels"/>).</para>
/// <para>Adam (<see cref="AdamSettings"/>) on u with step <c>LearningRate</c> (grid steps) and on b with step
/// <c>BiasLearningRate·rms(y_fp)</c>, both cosine-annealed to 0 over <c>NumIterations</c>, on random batches of the cache.
/// The result is kept only when its MSE over the whole cache is below nearest rounding's; otherwise the nearest-rounded
/// original weight and the original bias are returned.</para>
/// </remarks>
public static class AdaQuantOptimizer
{
    /// <summary>
    /// Runs AdaQuant on one layer. <paramref name="layer"/>'s bias (if any) is the starting bias and is not modified;
    /// <paramref name="inputs"/> [N, …] are the layer inputs, <paramref name="targets"/> the FP32 outputs for them.
    /// </summary>
    /// <exception cref="ShapeException">Weight or targets of the wrong shape, or inputs and targets of different batch sizes.</exception>
    public static AdaQuantLayerResult Optimize(AdaRoundLayer layer, Tensor<float> weight, Encoding encoding, Tensor<float> inputs,
        Tensor<float> targets, AdaQuantParameters parameters, int seed)
    {
        parameters.Validate();
        var watch = Stopwatch.StartNew();
        const string op = "AdaQuantOptimizer.Optimize";
        Check.SameShape(op, "weight", layer.WeightShape, weight.Dims);
        int total = inputs.Dims[0];
        Check.That(targets.Dims[0] == total, op, "targets", $"batch {total}", Shapes.Format(targets.Dims));
        Check.SameShape(op, "targets", layer.OutputShape(inputs.Dims), targets.Dims);
        int batch = Math.Clamp(parameters.BatchSize, 1, total);

        var grid = new AdaRoundGrid(weight, encoding);
        int n = grid.Length, m = layer.OutputChannels;
        var u = new float[n];
        AdaQuantKernels.ToUnits(grid, weight.AsSpan(), u);
        var nearest = new Tensor<float>(weight.Dims);
        grid.Nearest(weight.AsSpan(), nearest.AsSpan());
        double before = MeanSquaredError(layer, layer.Bias, nearest, inputs, targets, batch);

        Tensor<float>? bias = parameters.TuneBias ? layer.Bias?.Clone() : null;
        var work = bias is null ? layer : With(layer, bias);
        var wq = new Tensor<float>(weight.Dims);
        var dwdu = new float[n];
        var gradW = new Tensor<float>(weight.Dims);
        float[] mw = new float[n], sw = new float[n], zeros = new float[n];
        float[] gb = new float[m], ones = Enumerable.Repeat(1f, m).ToArray(), zerosB = new float[m], mb = new float[m], sb = new float[m];
        float biasLr = parameters.BiasLearningRate * (float)Math.Sqrt(MeanSquare(targets.AsSpan()));

        var (xb, tb) = (Rows(inputs, batch), Rows(targets, batch));
        var y = new Tensor<float>(tb.Dims);
        var gy = new Tensor<float>(tb.Dims);
        var order = Enumerable.Range(0, total).ToArray();
        var rng = new Random(seed);
        int T = parameters.NumIterations;
        for (int t = 0; t < T; t++)
        {
            Sample(inputs, targets, xb, tb, order, rng, batch);
            AdaQuantKernels.QuantizeSte(grid, u, wq.AsSpan(), dwdu);
            work.Forward(xb, wq, y);
            AdaRoundKernels.ReconstructionLoss(y.AsSpan(), tb.AsSpan(), batch, m, gy.AsSpan());
            work.BackwardWeight(xb, gy, gradW);
            AdaRoundKernels.AdamStep(u, gradW.Data, dwdu, zeros, mw, sw, new AdamSettings(AdaQuantKernels.Cosine(parameters.LearningRate, t, T)), t + 1);
            if (bias is not null && biasLr > 0)
            {
                AdaQuantKernels.BiasGradient(gy.AsSpan(), batch, m, gb);
                AdaRoundKernels.AdamStep(bias.Data, gb, ones, zerosB, mb, sb, new AdamSettings(AdaQuantKernels.Cosine(biasLr, t, T)), t + 1);
            }
        }
        AdaQuantKernels.QuantizeSte(grid, u, wq.AsSpan(), dwdu);
        double after = MeanSquaredError(work, work.Bias, wq, inputs, targets, batch);
        if (!(after < before))
            return new AdaQuantLayerResult(nearest, null, before, before, true, watch.Elapsed);
        return new AdaQuantLayerResult(wq, bias, before, after, false, watch.Elapsed);
    }

    /// <summary>
    /// Runs AdaQuant on one layer against its exact loss over all data (<see cref="LayerGramObjective"/>): the same
    /// schedule as the sampled overload, every iteration on every sample, returning the best iterate (the loss is exact and
    /// nearly free here) rather than the last. <paramref name="bias"/> (the layer's, not modified) is tuned when
    /// <see cref="AdaQuantParameters.TuneBias"/> and the objective keeps bias terms.
    /// </summary>
    public static AdaQuantLayerResult Optimize(LayerGramObjective objective, Tensor<float> weight, Encoding encoding, Tensor<float>? bias,
        AdaQuantParameters parameters)
    {
        parameters.Validate();
        var watch = Stopwatch.StartNew();
        var grid = new AdaRoundGrid(weight, encoding);
        int n = grid.Length, m = objective.Outputs;
        var u = new float[n];
        AdaQuantKernels.ToUnits(grid, weight.AsSpan(), u);
        var nearest = new Tensor<float>(weight.Dims);
        grid.Nearest(weight.AsSpan(), nearest.AsSpan());
        // The objective averages over output rows; the report, like the sampled path's, over every output element.
        double before = objective.Evaluate(nearest.AsSpan(), Span<float>.Empty) / m;

        bool tuneBias = parameters.TuneBias && bias is not null && objective.BiasTerms;
        var biasDelta = tuneBias ? new float[m] : [];
        var wq = new Tensor<float>(weight.Dims);
        var dwdu = new float[n];
        var gradW = new float[n];
        float[] mw = new float[n], sw = new float[n], zeros = new float[n];
        float[] gb = new float[m], ones = Enumerable.Repeat(1f, m).ToArray(), zerosB = new float[m], mb = new float[m], sb = new float[m];
        float biasLr = parameters.BiasLearningRate * (float)objective.TargetRms;
        // The loss over every sample comes with each step's gradient, so the best iterate is kept: the rounded weights
        // oscillate under the straight-through estimator and the last iterate is often not the best (on a 24→6 Gemm the
        // loss was lowest after 50 of 300 iterations and 2.2× higher at the end).
        var best = new Tensor<float>(weight.Dims);
        var bestBias = new float[biasDelta.Length];
        double after = double.PositiveInfinity;
        int T = parameters.NumIterations;
        for (int t = 0; t <= T; t++)
        {
            AdaQuantKernels.QuantizeSte(grid, u, wq.AsSpan(), dwdu);
            double loss = t < T
                ? objective.Evaluate(wq.AsSpan(), biasDelta, gradW, tuneBias ? gb : Span<float>.Empty)
                : objective.Evaluate(wq.AsSpan(), biasDelta, Span<float>.Empty, Span<float>.Empty);
            if (loss / m < after)
            {
                after = loss / m;
                wq.AsSpan().CopyTo(best.AsSpan());
                biasDelta.CopyTo(bestBias, 0);
            }
            if (t == T) break;
            AdaRoundKernels.AdamStep(u, gradW, dwdu, zeros, mw, sw, new AdamSettings(AdaQuantKernels.Cosine(parameters.LearningRate, t, T)), t + 1);
            if (tuneBias && biasLr > 0)
                AdaRoundKernels.AdamStep(biasDelta, gb, ones, zerosB, mb, sb, new AdamSettings(AdaQuantKernels.Cosine(biasLr, t, T)), t + 1);
        }
        if (!(after < before))
            return new AdaQuantLayerResult(nearest, null, before, before, true, watch.Elapsed);
        Tensor<float>? tuned = null;
        if (tuneBias)
        {
            tuned = bias!.Clone();
            for (int i = 0; i < m; i++) tuned.Data[i] += bestBias[i];
        }
        return new AdaQuantLayerResult(best, tuned, before, after, false, watch.Elapsed);
    }

    /// <summary>
    /// Mean squared error <c>Σ (layer(x; weight, bias) − y)² / numel(y)</c> over all of <paramref name="inputs"/>, in chunks of
    /// <paramref name="chunk"/> samples.
    /// </summary>
    public static double MeanSquaredError(AdaRoundLayer layer, Tensor<float>? bias, Tensor<float> weight, Tensor<float> inputs, Tensor<float> targets, int chunk)
    {
        var l = ReferenceEquals(bias, layer.Bias) ? layer : With(layer, bias);
        int total = inputs.Dims[0], xRow = inputs.Length / Math.Max(1, total), tRow = targets.Length / Math.Max(1, total);
        chunk = Math.Clamp(chunk, 1, Math.Max(1, total));
        double sum = 0;
        for (int start = 0; start < total; start += chunk)
        {
            int k = Math.Min(chunk, total - start);
            var xb = Rows(inputs, k);
            Array.Copy(inputs.Data, (long)start * xRow, xb.Data, 0, (long)k * xRow);
            var y = new Tensor<float>(Rows(targets, k).Dims);
            l.Forward(xb, weight, y);
            var t = targets.AsSpan().Slice(start * tRow, k * tRow);
            var ys = y.AsSpan();
            for (int i = 0; i < ys.Length; i++) { double d = ys[i] - t[i]; sum += d * d; }
        }
        return sum / Math.Max(1, targets.Length);
    }

    /// <summary>The same layer with another bias.</summary>
    internal static AdaRoundLayer With(AdaRoundLayer layer, Tensor<float>? bias) =>
        layer.ConvParams is { } p ? AdaRoundLayer.Conv(layer.WeightShape, bias, p) : AdaRoundLayer.Gemm(layer.WeightShape, bias, layer.TransB);

    private static double MeanSquare(ReadOnlySpan<float> x)
    {
        double s = 0;
        foreach (float v in x) s += (double)v * v;
        return x.Length == 0 ? 0 : s / x.Length;
    }

    private static Tensor<float> Rows(Tensor<float> t, int rows)
    {
        var shape = t.Shape;
        shape[0] = rows;
        return new Tensor<float>(shape);
    }

    /// <summary>A random batch without replacement (partial shuffle of <paramref name="order"/>), or the whole cache.</summary>
    private static void Sample(Tensor<float> inputs, Tensor<float> targets, Tensor<float> xb, Tensor<float> tb, int[] order, Random rng, int batch)
    {
        int total = inputs.Dims[0], xRow = inputs.Length / total, tRow = targets.Length / total;
        for (int i = 0; i < batch; i++)
        {
            int j = batch == total ? i : rng.Next(i, total);
            (order[i], order[j]) = (order[j], order[i]);
            Array.Copy(inputs.Data, (long)order[i] * xRow, xb.Data, (long)i * xRow, xRow);
            Array.Copy(targets.Data, (long)order[i] * tRow, tb.Data, (long)i * tRow, tRow);
        }
    }
}
