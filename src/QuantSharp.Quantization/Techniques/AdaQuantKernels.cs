namespace QuantSharp.Quantization.Techniques;

/// <summary>
/// The element-wise numerics of AdaQuant (Hubara et al. 2021, "Accurate Post Training Quantization With Small Calibration
/// Sets") on spans: the quantized weight from its value in grid steps with the straight-through derivative, and the
/// bias gradient of a layer output.
/// </summary>
/// <remarks>
/// The weight is optimised in grid units <c>u = w/s</c> of its frozen encoding (scale s, grid indices QMin..QMax per element,
/// see <see cref="AdaRoundGrid"/>): <c>w_q = s·clamp(round(u), QMin, QMax)</c>. The straight-through estimator takes
/// <c>∂round(u)/∂u = 1</c>, so <c>∂w_q/∂u = s</c> where <c>QMin ≤ u ≤ QMax</c> and 0 where the clamp is active.
/// </remarks>
public static class AdaQuantKernels
{
    /// <summary>
    /// <paramref name="weight"/> = <c>s·clamp(round(u), QMin, QMax)</c> (round half to even) and
    /// <paramref name="dWeightDu"/> = <c>s</c> inside the grid range, 0 outside (STE with clipping).
    /// </summary>
    /// <exception cref="ArgumentException">Spans shorter than the grid.</exception>
    public static void QuantizeSte(AdaRoundGrid grid, ReadOnlySpan<float> units, Span<float> weight, Span<float> dWeightDu)
    {
        int n = grid.Length;
        if (units.Length < n || weight.Length < n || dWeightDu.Length < n)
            throw new ArgumentException($"AdaQuantKernels.QuantizeSte: spans expected at least {n} elements, got units {units.Length}, weight {weight.Length}, dWeightDu {dWeightDu.Length}");
        float[] scale = grid.Scale, lo = grid.QMin, hi = grid.QMax;
        for (int i = 0; i < n; i++)
        {
            float u = units[i];
            weight[i] = scale[i] * Math.Clamp(MathF.Round(u, MidpointRounding.ToEven), lo[i], hi[i]);
            dWeightDu[i] = u >= lo[i] && u <= hi[i] ? scale[i] : 0f;
        }
    }

    /// <summary>Weight in grid units: <c>u = w/s</c> per element.</summary>
    public static void ToUnits(AdaRoundGrid grid, ReadOnlySpan<float> weight, Span<float> units)
    {
        for (int i = 0; i < grid.Length; i++) units[i] = weight[i] / grid.Scale[i];
    }

    /// <summary>
    /// Bias gradient of an output gradient <paramref name="gradOutput"/> laid out [N, C, P…]:
    /// <c>∂L/∂b_c = Σ_{n,p} ∂L/∂y[n, c, p]</c>, written to <paramref name="gradBias"/> (length C).
    /// </summary>
    public static void BiasGradient(ReadOnlySpan<float> gradOutput, int batch, int channels, Span<float> gradBias)
    {
        int plane = gradOutput.Length / Math.Max(1, batch * channels);
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int n = 0; n < batch; n++)
                foreach (float g in gradOutput.Slice((n * channels + c) * plane, plane)) sum += g;
            gradBias[c] = (float)sum;
        }
    }

    /// <summary>Cosine annealing of a step size: <c>lr_t = lr·(1 + cos(π·t/T))/2</c> for <c>t = 0..T−1</c>.</summary>
    public static float Cosine(float lr, int t, int iterations) =>
        iterations <= 1 ? lr : (float)(lr * 0.5 * (1 + Math.Cos(Math.PI * t / iterations)));
}
