using static QuantSharp.Engine.Runtime.InputRole;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX <c>CastLike</c> (<c>Cast</c> to the element type of a second input, whose values are ignored) and the casts to
/// 16-bit floats. The engine holds FLOAT16 and BFLOAT16 values widened to float32 (the importer widens them), so a cast
/// to either keeps float32 storage but rounds every value to the 16-bit format, as a runtime storing halves would.
/// </summary>
internal static class ConversionOps
{
    /// <summary>ONNX TensorProto.DataType codes of the 16-bit floats.</summary>
    public const long Float16Code = 10, BFloat16Code = 16;

    public static void Register(OpRegistry r)
    {
        Add(r, "CastLike", 15, n => (
            (a, _) => [TensorOps.Cast(a.Any(0), a.Any(1).DataType)],
            (a, y, g, _) => [a.Any(0) is Tensor<float> && g[0] is Tensor<float> gy ? gy : null, null]));
        Describe(r);
    }

    /// <summary>Schema facts: CastLike takes input 1's element type (its values are never read).</summary>
    private static void Describe(OpRegistry r) =>
        r.Describe("CastLike").WithInputs(Data, Setting).WithOutputType(TypeRules.SameAsInput(1)).WithShape(ShapeRules.SameAsInput);

    /// <summary>
    /// Cast to FLOAT16 (round to nearest even; beyond ±65504 → ±∞) or BFLOAT16 (round to nearest even on the top 16
    /// bits), stored as float32. The gradient passes straight through, as for other float casts.
    /// </summary>
    public static (ForwardRule, GradientRule?) CastTo16BitFloat(Node n)
    {
        bool bfloat = n.GetInt("to", 1) == BFloat16Code;
        return (
            (a, _) => [RoundTo16Bit(a.Any(0), bfloat, n)],
            (a, y, g, _) => [a.Any(0) is Tensor<float> && g[0] is Tensor<float> gy ? gy : null]);
    }

    /// <summary>Values of <paramref name="x"/> (any numeric type) rounded to half or bfloat16 precision, as float32.</summary>
    public static Tensor<float> RoundTo16Bit(Tensor x, bool bfloat, Node n)
    {
        if (x is Tensor<bool>) throw new GraphException($"node {n.Label}: Cast from Bool to a 16-bit float is not supported");
        var y = new Tensor<float>(x.Dims);
        // From double the rounding is direct (through float it could round twice); integers up to 2^24 are exact in float.
        if (x is Tensor<double> d && !bfloat)
            for (int i = 0; i < d.Length; i++) y.Data[i] = (float)(Half)d.Data[i];
        else
        {
            var f = x as Tensor<float> ?? TensorOps.Cast<float>(x);
            if (bfloat)
                for (int i = 0; i < f.Length; i++) y.Data[i] = RoundToBFloat16(f.Data[i]);
            else
                for (int i = 0; i < f.Length; i++) y.Data[i] = (float)(Half)f.Data[i];
        }
        return y;
    }

    private static float RoundToBFloat16(float v)
    {
        if (float.IsNaN(v)) return v;
        uint bits = BitConverter.SingleToUInt32Bits(v);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000u);
    }
}
