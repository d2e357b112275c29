using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>FP8 E5M2 bit patterns (ONNX FLOAT8E5M2): sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like ±Inf and NaN.</summary>
public class Float8E5M2Tests
{
    [Theory]
    [InlineData(1f, 0x3C)]              // 1.00 × 2^0: exponent 15 → 01111 00
    [InlineData(57344f, 0x7B)]          // 1.11 × 2^15: the largest finite value (11111 is Inf/NaN)
    [InlineData(60000f, 0x7B)]          // saturates
    [InlineData(float.PositiveInfinity, 0x7B)] // saturate=1: ±Inf → ±max
    [InlineData(float.NegativeInfinity, 0xFB)]
    [InlineData(5f, 0x45)]              // 1.01 × 2^2: 10001 01
    [InlineData(-0.375f, 0xB6)]         // −1.10 × 2^−2: 1 01101 10
    [InlineData(9f, 0x48)]              // halfway between 8 (1.00 × 2^3) and 10 → the even mantissa, 8
    [InlineData(11f, 0x4A)]             // halfway between 10 and 12 → 12 (1.10 × 2^3)
    [InlineData(6.103515625e-05f, 0x04)] // 2^−14, the smallest normal
    [InlineData(1.52587890625e-05f, 0x01)] // 2^−16, the smallest subnormal
    [InlineData(2.288818359375e-05f, 0x02)] // 1.5 × 2^−16 → 2 quanta (ties to even)
    [InlineData(7.62939453125e-06f, 0x00)]  // 0.5 × 2^−16 → 0 (ties to even)
    [InlineData(-0f, 0x80)]
    public void Encode_RoundsToNearestEven_AndSaturates(float value, int bits) =>
        Assert.Equal((byte)bits, Float8.Encode(value, FloatFormat.E5M2));

    [Fact]
    public void Decode_EveryFinitePattern_EncodesBackToItself_InfAndNaNPatternsDecodeAsSuch()
    {
        for (int b = 0; b < 256; b++)
        {
            float v = Float8.Decode((byte)b, FloatFormat.E5M2);
            if ((b & 0x7C) == 0x7C)
            {
                if ((b & 0x03) == 0) Assert.Equal((b & 0x80) != 0 ? float.NegativeInfinity : float.PositiveInfinity, v);
                else Assert.True(float.IsNaN(v), $"0x{b:X2}");
                continue;
            }
            Assert.Equal((byte)b, Float8.Encode(v, FloatFormat.E5M2));
            Assert.Equal(v, FloatQuantizeReference.Round(v, FloatFormat.E5M2));
        }
        Assert.Equal(57344f, Float8.Decode(0x7B, FloatFormat.E5M2));
        Assert.Equal(-1.52587890625e-05f, Float8.Decode(0x81, FloatFormat.E5M2));
        Assert.True(float.IsNaN(Float8.Decode(Float8.Encode(float.NaN, FloatFormat.E5M2), FloatFormat.E5M2)));
    }

    [Fact]
    public void DataTypes_MapToFormats_BothWays()
    {
        Assert.Equal(DataType.Float8E5M2, Float8.DataTypeOf(FloatFormat.E5M2));
        Assert.Equal(DataType.Float8E4M3FN, Float8.DataTypeOf(FloatFormat.E4M3));
        Assert.Equal(FloatFormat.E5M2, Float8.FormatOf(DataType.Float8E5M2));
        Assert.Null(Float8.FormatOf(DataType.UInt8));
        Assert.Throws<ArgumentException>(() => Float8.DataTypeOf(FloatFormat.Float16));
    }
}
