namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Cast to ONNX FLOAT16 or BFLOAT16 in an engine that holds those types widened in float32 tensors (the ONNX importer
/// widens float16/bfloat16 initializers and declarations exactly). The result is a float32 tensor whose every value is
/// representable in the target type: rounded to nearest, ties to even; out of range → ±infinity (float16), NaN stays NaN.
/// A cast from FLOAT16/BFLOAT16 back to FLOAT is then the identity, as it is in ONNX. Arithmetic between such casts runs in
/// float32, so a model that computes in float16 agrees with a float16 runtime to float16 precision, not bit for bit.
/// </summary>
internal static class NarrowFloatCast
{
    /// <summary>ONNX TensorProto codes of FLOAT16 (10) and BFLOAT16 (16).</summary>
    public const int Float16 = 10, BFloat16 = 16;

    /// <summary>Rounds <paramref name="x"/> (already cast to float32) in place to the precision of ONNX type <paramref name="code"/>.</summary>
    public static Tensor Round(Tensor x, int code)
    {
        var f = (Tensor<float>)x;
        var d = f.Data;
        if (code == Float16)
            for (int i = 0; i < d.Length; i++) d[i] = (float)(Half)d[i];
        else
            for (int i = 0; i < d.Length; i++) d[i] = ToBFloat16(d[i]);
        return f;
    }

    /// <summary><paramref name="v"/> rounded to bfloat16 (the upper 16 bits of a float32), nearest even; NaN stays a quiet NaN.</summary>
    public static float ToBFloat16(float v)
    {
        if (float.IsNaN(v)) return float.NaN;
        uint bits = BitConverter.SingleToUInt32Bits(v);
        uint rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
        return BitConverter.UInt32BitsToSingle(rounded & 0xFFFF0000u);
    }
}
