namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The bit patterns of FP8 E4M3FN (ONNX <c>FLOAT8E4M3FN</c>): sign, 4 exponent bits with bias 7, 3 mantissa bits; no
/// infinities; <c>S.1111.111</c> is NaN, so the largest finite value is ±448 (<c>S.1111.110</c>). Values round as
/// <see cref="FloatQuantizeReference.Round"/> does (nearest, ties to even) and saturate to ±448 (ONNX's <c>saturate=1</c>).
/// </summary>
public static class Float8E4M3FN
{
    private const byte NaN = 0x7F;

    /// <summary>The E4M3FN byte nearest <paramref name="value"/> (ties to even; beyond ±448 and ±Inf saturate; NaN → 0x7F).</summary>
    public static byte Encode(float value)
    {
        if (float.IsNaN(value)) return NaN;
        float r = FloatQuantizeReference.Round(value, FloatFormat.E4M3);
        int sign = r < 0 || (r == 0 && float.IsNegative(r)) ? 0x80 : 0;
        float a = MathF.Abs(r);
        if (a == 0) return (byte)sign;
        // Below 2^-6 the format is subnormal: a multiple of its quantum 2^-9 (exact after rounding).
        if (a < 0.015625f) return (byte)(sign | (int)(a * 512f));
        int bits = BitConverter.SingleToInt32Bits(a);
        int exponent = ((bits >> 23) & 0xFF) - 127 + 7;
        int mantissa = (bits >> 20) & 0x7;
        return (byte)(sign | exponent << 3 | mantissa);
    }

    /// <summary>The float32 value of an E4M3FN byte (exact; 0x7F and 0xFF are NaN).</summary>
    public static float Decode(byte bits)
    {
        int exponent = (bits >> 3) & 0xF, mantissa = bits & 0x7;
        float sign = (bits & 0x80) != 0 ? -1f : 1f;
        if (exponent == 0xF && mantissa == 0x7) return float.NaN;
        if (exponent == 0) return sign * mantissa / 512f;
        return sign * (1f + mantissa / 8f) * MathF.Pow(2f, exponent - 7);
    }
}
