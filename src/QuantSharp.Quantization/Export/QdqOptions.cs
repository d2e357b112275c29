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
    /// Relu/Clip that the following QuantizeLinear makes exactly redundant (see <see cref="QdqPlacement"/>).
    /// </summary>
    public bool FusionFriendly { get; init; } = true;

    /// <summary>
    /// With <see cref="FusionFriendly"/>, also store float Conv biases as int32 with scale x_scale·w_scale, as ONNX Runtime's
    /// bias pass computes them at load (default false: ONNX Runtime fuses float biases itself, and the written model then
    /// computes exactly what the simulation, which keeps float biases, computes).
    /// </summary>
    public bool Int32Biases { get; init; }

    /// <summary>
    /// Lower each MatMul whose constant weight has a 4-bit per-block encoding along its input axis (block size a power of
    /// two ≥ 16 dividing K) to ONNX Runtime's <c>com.microsoft.MatMulNBits</c> with the packed weight, instead of a blocked
    /// <c>DequantizeLinear</c> feeding the MatMul (default false: standard ONNX only). See <see cref="MatMulNBitsLowering"/>.
    /// </summary>
    public bool MatMulNBits { get; init; }
}
