namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The bit patterns of the ONNX FP8 types FLOAT8E4M3FN (E4M3: sign,
/// 4 exponent bits, 3 mantissa bits, no infinities, <c>S.1111.111</c> NaN, max ±448) and FLOAT8E5M2 (E5M2: sign, 5 exponent
/// bits, 2 mantissa bits, IEEE-like: <c>S.11111.00</c> ±Inf, <c>S.11111.xx</c> NaN, max ±57344). The layout comes from
/// <see cref="FloatQuantizeReference"/> (mantissa bits, smallest normal exponent), the one place that knows each format.
/// </summary>
/// <remarks>
/// Encoding rounds as <see cref="FloatQuantizeReference.Round"/> does (nearest, ties to even) and saturates: finite values
/// beyond the range and ±Inf become ±max, as ONNX's QuantizeLinear and Cast with <c>saturate=1</c> do for both types. NaN
/// becomes <c>0x7F</c>, a NaN pattern in both.
/// </remarks>
public static class Float8
{
    private const byte NaN = 0x7F;

    /// <summary>The ONNX element type of an FP8 <paramref name="format"/>.</summary>
    /// <exception cref="ArgumentException">Not an FP8 format.</exception>
    public static DataType DataTypeOf(FloatFormat format) => format switch
    {
        FloatFormat.E4M3 => DataType.Float8E4M3FN,
        FloatFormat.E5M2 => DataType.Float8E5M2,
        _ => throw new ArgumentException($"Float8: argument 'format' expected E4M3 or E5M2, got {format}", nameof(format)),
    };

    /// <summary>The FP8 format of element type <paramref name="type"/>, or null when it is not an FP8 type.</summary>
    public static FloatFormat? FormatOf(DataType type) => type switch
    {
        DataType.Float8E4M3FN => FloatFormat.E4M3,
        DataType.Float8E5M2 => FloatFormat.E5M2,
        _ => null,
    };

    /// <summary>The byte of <paramref name="format"/> nearest <paramref name="value"/> (see the remarks).</summary>
    public static byte Encode(float value, FloatFormat format)
    {
        if (float.IsNaN(value)) return NaN;
        int mantissaBits = FloatQuantizeReference.MantissaBits(format), minExponent = FloatQuantizeReference.MinNormalExponent(format);
        float r = FloatQuantizeReference.Round(value, format);
        int sign = r < 0 || (r == 0 && float.IsNegative(r)) ? 0x80 : 0;
        float a = MathF.Abs(r);
        if (a == 0) return (byte)sign;
        // Below the smallest normal the format is subnormal: a whole number of quanta 2^(minExponent − mantissaBits), exact after rounding.
        if (a < MathF.ScaleB(1f, minExponent)) return (byte)(sign | (int)MathF.ScaleB(a, mantissaBits - minExponent));
        int bits = BitConverter.SingleToInt32Bits(a);
        int exponent = ((bits >> 23) & 0xFF) - 127 - minExponent + 1;
        int mantissa = (bits >> (23 - mantissaBits)) & ((1 << mantissaBits) - 1);
        return (byte)(sign | exponent << mantissaBits | mantissa);
    }

    /// <summary>The float32 value of a byte of <paramref name="format"/> (exact; NaN and, for E5M2, ±Inf patterns as such).</summary>
    public static float Decode(byte bits, FloatFormat format)
    {
        int mantissaBits = FloatQuantizeReference.MantissaBits(format), minExponent = FloatQuantizeReference.MinNormalExponent(format);
        int exponentMask = (1 << (7 - mantissaBits)) - 1, mantissaMask = (1 << mantissaBits) - 1;
        int exponent = (bits >> mantissaBits) & exponentMask, mantissa = bits & mantissaMask;
        float sign = (bits & 0x80) != 0 ? -1f : 1f;
        if (exponent == exponentMask)
        {
            // E4M3FN spends only S.1111.111 on NaN (the rest are numbers up to 448); E5M2 keeps IEEE's all-ones exponent.
            if (format == FloatFormat.E5M2) return mantissa == 0 ? sign * float.PositiveInfinity : float.NaN;
            if (mantissa == mantissaMask) return float.NaN;
        }
        if (exponent == 0) return sign * MathF.ScaleB(mantissa, minExponent - mantissaBits);
        return sign * MathF.ScaleB(1f + (float)mantissa / (1 << mantissaBits), exponent - 1 + minExponent);
    }
}
