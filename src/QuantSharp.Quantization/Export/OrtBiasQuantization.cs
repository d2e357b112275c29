namespace QuantSharp.Quantization.Export;

/// <summary>
/// ONNX Runtime's bias-quantization pass, the one place that knows it: a float bias of a Conv/Gemm whose input (per
/// tensor) and weight are dequantized becomes int32 levels <c>round(b / (x_scale·w_scale[c]))</c> — the product and the
/// quotient rounded to float32, half to even — with scale <c>x_scale·w_scale[c]</c>.
/// </summary>
internal static class OrtBiasQuantization
{
    /// <summary>The scales and int32 levels of <paramref name="bias"/> (one per output channel).</summary>
    public static (float[] Scales, int[] Levels) Quantize(ReadOnlySpan<float> bias, QdqParams x, QdqParams w)
    {
        var scales = new float[bias.Length];
        var levels = new int[bias.Length];
        for (int c = 0; c < bias.Length; c++)
        {
            scales[c] = x.Scales[0] * w.Scales[w.PerTensor ? 0 : c];
            float quotient = bias[c] / scales[c];
            levels[c] = (int)Math.Clamp((double)MathF.Round(quotient, MidpointRounding.ToEven), int.MinValue, int.MaxValue);
        }
        return (scales, levels);
    }
}
