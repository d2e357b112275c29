namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The bit patterns of FP8 E4M3FN (ONNX <c>FLOAT8E4M3FN</c>): sign, 4 exponent bits with bias 7, 3 mantissa bits; no
/// infinities; <c>S.1111.111</c> is NaN, so the largest finite value is ±448 (<c>S.1111.110</c>). <see cref="Float8"/> with
/// <see cref="FloatFormat.E4M3"/>.
/// </summary>
public static class Float8E4M3FN
{
    /// <summary>The E4M3FN byte nearest <paramref name="value"/> (ties to even; beyond ±448 and ±Inf saturate; NaN → 0x7F).</summary>
    public static byte Encode(float value) => Float8.Encode(value, FloatFormat.E4M3);

    /// <summary>The float32 value of an E4M3FN byte (exact; 0x7F and 0xFF are NaN).</summary>
    public static float Decode(byte bits) => Float8.Decode(bits, FloatFormat.E4M3);
}
