using System.Diagnostics;
using QuantSharp.Engine;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Techniques;

/// <summary>What AdaRound did to one layer.</summary>
/// <param name="Weight">The hard-rounded weight: every element is <c>s·clamp(⌊w/s⌋ or ⌊w/s⌋ + 1, QMin, QMax)</c>, on the encoding grid.</param>
/// <param name="LossNearest">Reconstruction loss over all cached data with nearest-rounded weights.</param>
/// <param name="LossAdaRound">Reconstruction loss over all cached data with the AdaRounded weights.</param>
/// <param name="FractionRoundedUp">Fraction of weights rounded up (<c>h = 1</c>).</param>
/// <param name="FractionDifferentFromNearest">Fraction of weights whose rounding differs from nearest rounding.</param>
/// <param name="Elapsed">Wall time of the optimisation.</param>
public sealed record AdaRoundLayerResult(Tensor<float> Weight, double LossNearest, double LossAdaRound, double FractionRoundedUp,
    double FractionDifferentFromNearest, TimeSpan Elapsed);

/// <summary>
/// AdaRound's per-layer optimisation on tensors: learns the rounding variable V of a Conv/Gemm weight so that the
/// soft-quantized layer reproduces the FP32 layer's outputs, then hardens the rounding.
/// </summary>
/// <remarks>
/// <para>Objective: <c>L(V) = ‖W̃(V) ⊛ x_q − y_fp‖² + λ·Σ (1 − |2h(V) − 1|^β)</c> with <c>W̃ = s·clamp(⌊W/s⌋ + h(V), QMin, QMax)</c>,
/// the reconstruction term summed over output channels and averaged over batch and positions
/// (<see cref="AdaRoundKernels.ReconstructionLoss"/>), x_q the cached (quantized-model) inputs, y_fp the FP32 outputs.</para>
/// <para>Schedule: V starts at <c>h(V) = frac(W/s)</c>; Adam (lr from the parameters) on random batches of the cache; no
/// regularizer during the first <c>WarmStart·T</c> iterations, then β anneals linearly from <c>BetaRange.Start</c> to
/// <c>BetaRange.End</c>. Finally <c>h ← [h(V) ≥ ½]</c>.</para>
/// </remarks>
public static class AdaRoundOptimizer
{
    /// <summary>
    /// Runs AdaRound on one layer. <paramref name="inputs"/> [N, …] are the layer inputs, <paramref name="targets"/> [N, M, …]
    /// the FP32 outputs for them; <paramref name="batchSize"/> images are sampled per iteration.
    /// </summary>
    /// <exception cref="ShapeException">Inputs and targets disagree in batch size, or the targets' shape is not the layer's output shape.</exception>
    public static AdaRoundLayerResult Optimize(AdaRoundLayer layer, Tensor<float> weight, Encoding encoding, Tensor<float> inputs,
        Tensor<float> targets, AdaroundParameters parameters, int batchSize)
    {
        parameters.Validate();
        Check.SameShape("AdaRoundOptimizer.Optimize", "weight", layer.WeightShape, weight.Dims);
        int total = inputs.Dims[0];
        Check.That(targets.Dims[0] == total, "AdaRoundOptimizer.Optimize", "targets", $"batch {total}", Shapes.Format(targets.Dims));
        Check.SameShape("AdaRoundOptimizer.Optimize", "targets", layer.OutputShape(inputs.Dims), targets.Dims);
        batchSize = Math.Clamp(batchSize, 1, total);
        var ws = new Workspace(layer, weight.Dims, inputs.Dims, targets.Dims, batchSize);
        var rng = new Random(parameters.Seed);
        var order = Enumerable.Range(0, total).ToArray();
        return Run(weight, encoding, parameters,
            (w, gradient) =>
            {
                var (xb, tb) = ws.Sample(inputs, targets, order, rng);
                return ws.Reconstruction(w, xb, tb, gradient);
            },
            w => ws.FullLoss(inputs, targets, w));
    }

    /// <summary>
    /// Runs AdaRound on one layer against its exact reconstruction loss over all data (<see cref="LayerGramObjective"/>):
    /// every iteration sees every sample, at a cost that does not depend on how many there are.
    /// </summary>
    public static AdaRoundLayerResult Optimize(LayerGramObjective objective, Tensor<float> weight, Encoding encoding, AdaroundParameters parameters)
    {
        parameters.Validate();
        return Run(weight, encoding, parameters, (w, gradient) => { objective.Gradient(w, gradient); return 0; }, w => objective.Evaluate(w.AsSpan(), Span<float>.Empty));
    }

    /// <summary>One iteration's reconstruction loss at soft weight w, its weight gradient written to the span.</summary>
    private delegate double Reconstruction(float[] w, Span<float> gradient);

    /// <summary>The schedule of <see cref="AdaRoundOptimizer"/> over a reconstruction term; <paramref name="fullLoss"/> scores the final weights.</summary>
    private static AdaRoundLayerResult Run(Tensor<float> weight, Encoding encoding, AdaroundParameters parameters,
        Reconstruction reconstruction, Func<Tensor<float>, double> fullLoss)
    {
        var watch = Stopwatch.StartNew();
        var grid = new AdaRoundGrid(weight, encoding);
        var v = new float[grid.Length];
        grid.InitialV(weight.AsSpan(), v);
        var soft = new float[grid.Length];
        var dWeightDv = new float[grid.Length];
        var regGradient = new float[grid.Length];
        var gradWeight = new float[grid.Length];
        var m = new float[grid.Length];
        var s = new float[grid.Length];
        var adam = new AdamSettings(parameters.LearningRate);
        int T = parameters.NumIterations;
        for (int t = 0; t < T; t++)
        {
            float? beta = parameters.BetaAt(t, T);
            AdaRoundKernels.SoftWeights(grid, v, beta ?? 1f, parameters.RegParam, beta is not null, soft, dWeightDv, regGradient);
            reconstruction(soft, gradWeight);
            AdaRoundKernels.AdamStep(v, gradWeight, dWeightDv, regGradient, m, s, adam, t + 1);
        }

        var nearest = new Tensor<float>(weight.Dims);
        grid.Nearest(weight.AsSpan(), nearest.AsSpan());
        var hard = new Tensor<float>(weight.Dims);
        grid.Harden(v, hard.AsSpan());
        int up = 0, differ = 0;
        for (int i = 0; i < v.Length; i++)
        {
            if (v[i] >= 0) up++;
            if (hard.Data[i] != nearest.Data[i]) differ++;
        }
        double lossNearest = fullLoss(nearest);
        double lossAda = fullLoss(hard);
        return new AdaRoundLayerResult(hard, lossNearest, lossAda, (double)up / Math.Max(1, v.Length), (double)differ / Math.Max(1, v.Length), watch.Elapsed);
    }

    /// <summary>
    /// The AdaRound objective at <paramref name="v"/> on one batch: <c>recon + λ·f_reg</c> (the regularizer only when
    /// <paramref name="regularize"/>), and its gradient with respect to V into <paramref name="gradV"/> when not null —
    /// the same computation an optimisation step makes (for gradient checks).
    /// </summary>
    public static double Objective(AdaRoundLayer layer, AdaRoundGrid grid, float[] v, Tensor<float> x, Tensor<float> target,
        float beta, float lambda, bool regularize, float[]? gradV)
    {
        var ws = new Workspace(layer, grid.Shape, x.Dims, target.Dims, x.Dims[0]);
        return Objective(grid, v, beta, lambda, regularize, gradV, (w, g) => ws.Reconstruction(w, x, target, g));
    }

    /// <summary><see cref="Objective(AdaRoundLayer, AdaRoundGrid, float[], Tensor{float}, Tensor{float}, float, float, bool, float[])"/> with the exact reconstruction term of <paramref name="objective"/>.</summary>
    public static double Objective(LayerGramObjective objective, AdaRoundGrid grid, float[] v, float beta, float lambda, bool regularize, float[]? gradV) =>
        Objective(grid, v, beta, lambda, regularize, gradV, (w, g) => objective.Evaluate(w, g));

    private static double Objective(AdaRoundGrid grid, float[] v, float beta, float lambda, bool regularize, float[]? gradV, Reconstruction reconstruction)
    {
        var soft = new float[grid.Length];
        var dWeightDv = new float[grid.Length];
        var regGradient = new float[grid.Length];
        double reg = AdaRoundKernels.SoftWeights(grid, v, beta, lambda, regularize, soft, dWeightDv, regGradient);
        var gradWeight = gradV is null ? [] : new float[grid.Length];
        double recon = reconstruction(soft, gradWeight);
        if (gradV is not null)
            for (int i = 0; i < gradV.Length; i++) gradV[i] = gradWeight[i] * dWeightDv[i] + regGradient[i];
        return recon + (regularize ? lambda * reg : 0);
    }

    /// <summary>Buffers of one layer's sampled optimisation, allocated once.</summary>
    private sealed class Workspace
    {
        private readonly AdaRoundLayer _layer;
        private readonly int _batch;
        private readonly Tensor<float> _xb, _tb, _y, _gy, _w, _gw;

        public Workspace(AdaRoundLayer layer, ReadOnlySpan<int> weightShape, ReadOnlySpan<int> inputShape, ReadOnlySpan<int> targetShape, int batch)
        {
            _layer = layer;
            _batch = batch;
            int[] xs = inputShape.ToArray(), ts = targetShape.ToArray();
            xs[0] = batch;
            ts[0] = batch;
            _xb = new Tensor<float>(xs);
            _tb = new Tensor<float>(ts);
            _y = new Tensor<float>(ts);
            _gy = new Tensor<float>(ts);
            _w = new Tensor<float>(weightShape.ToArray());
            _gw = new Tensor<float>(weightShape.ToArray());
        }

        /// <summary>A random batch (a partial shuffle of <paramref name="order"/>), or the whole cache when it is one batch.</summary>
        public (Tensor<float> X, Tensor<float> T) Sample(Tensor<float> inputs, Tensor<float> targets, int[] order, Random rng)
        {
            int total = inputs.Dims[0];
            if (_batch == total) return (inputs, targets);
            int xRow = inputs.Length / total, tRow = targets.Length / total;
            for (int i = 0; i < _batch; i++)
            {
                int j = rng.Next(i, total);
                (order[i], order[j]) = (order[j], order[i]);
                Array.Copy(inputs.Data, (long)order[i] * xRow, _xb.Data, (long)i * xRow, xRow);
                Array.Copy(targets.Data, (long)order[i] * tRow, _tb.Data, (long)i * tRow, tRow);
            }
            return (_xb, _tb);
        }

        /// <summary>Reconstruction loss of soft weight <paramref name="w"/> on one batch of exactly the workspace's size; its weight gradient into <paramref name="gradient"/> unless empty.</summary>
        public double Reconstruction(float[] w, Tensor<float> x, Tensor<float> target, Span<float> gradient)
        {
            Array.Copy(w, _w.Data, w.Length);
            _layer.Forward(x, _w, _y);
            bool withGradient = !gradient.IsEmpty;
            double recon = AdaRoundKernels.ReconstructionLoss(_y.AsSpan(), target.AsSpan(), x.Dims[0], _layer.OutputChannels,
                withGradient ? _gy.AsSpan() : Span<float>.Empty);
            if (withGradient)
            {
                _layer.BackwardWeight(x, _gy, _gw);
                _gw.AsSpan().CopyTo(gradient);
            }
            return recon;
        }

        /// <summary>Reconstruction loss of a fixed weight over all cached data (in chunks of the batch size; a short tail chunk is weighted by its size).</summary>
        public double FullLoss(Tensor<float> inputs, Tensor<float> targets, Tensor<float> weight)
        {
            int total = inputs.Dims[0], xRow = inputs.Length / total, tRow = targets.Length / total;
            double sum = 0;
            for (int start = 0; start < total; start += _batch)
            {
                int n = Math.Min(_batch, total - start);
                Tensor<float> xb = _xb, tb = _tb, y = _y;
                if (n != _batch)
                {
                    int[] xs = inputs.Shape, ts = targets.Shape;
                    xs[0] = n;
                    ts[0] = n;
                    (xb, tb, y) = (new Tensor<float>(xs), new Tensor<float>(ts), new Tensor<float>(ts));
                }
                Array.Copy(inputs.Data, (long)start * xRow, xb.Data, 0, (long)n * xRow);
                Array.Copy(targets.Data, (long)start * tRow, tb.Data, 0, (long)n * tRow);
                _layer.Forward(xb, weight, y);
                sum += n * AdaRoundKernels.ReconstructionLoss(y.AsSpan(), tb.AsSpan(), n, _layer.OutputChannels, Span<float>.Empty);
            }
            return sum / total;
        }
    }
}
