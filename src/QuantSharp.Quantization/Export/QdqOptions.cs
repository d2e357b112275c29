namespace QuantSharp.Quantization.Export;

/// <summary>Options of <see cref="QdqExport.Lower"/>.</summary>
public sealed record QdqOptions
{
    /// <summary>
    /// Store a quantized parameter (a quantizer reading an initializer) as an integer initializer followed by
    /// <c>DequantizeLinear</c> only (default true); when false it keeps the float initializer and gets a
    /// <c>QuantizeLinear</c>/<c>DequantizeLinear</c> pair like an activation.
    /// </summary>
    public bool QuantizeWeights { get; init; } = true;

    /// <summary>
    /// Rewrite the lowered graph so ONNX Runtime fuses every quantized Conv into an integer kernel (default true): drop a
    /// Relu/Clip that the following QuantizeLinear makes exactly redundant, store float Conv biases as int32 with scale
    /// x_scale·w_scale (see <see cref="QdqPlacement"/>).
    /// </summary>
    public bool FusionFriendly { get; init; } = true;
}
