using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>FP8 E4M3FN bit patterns (ONNX FLOAT8E4M3FN): sign, 4 exponent bits (bias 7), 3 mantissa bits, no infinities.</summary>
public class Float8E4M3FNTests
{
    [Theory]
    [InlineData(1f, 0x38)]            // 1.000 × 2^0: exponent 7 → 0111 000
    [InlineData(448f, 0x7E)]          // 1.110 × 2^8: the largest finite value (1111 111 is NaN)
    [InlineData(500f, 0x7E)]          // saturates
    [InlineData(float.PositiveInfinity, 0x7E)]
    [InlineData(float.NegativeInfinity, 0xFE)]
    [InlineData(-448f, 0xFE)]
    [InlineData(17f, 0x58)]           // halfway between 16 (1.000 × 2^4) and 18 → the even mantissa: 1011 000
    [InlineData(19f, 0x5A)]           // halfway between 18 and 20 → 20 (1.010 × 2^4)
    [InlineData(-0.3125f, 0xAA)]      // −1.010 × 2^−2: 1 0101 010
    [InlineData(0.015625f, 0x08)]     // 2^−6, the smallest normal
    [InlineData(0.001953125f, 0x01)]  // 2^−9, the smallest subnormal
    [InlineData(0.0029296875f, 0x02)] // 1.5 × 2^−9 → 2 quanta (ties to even)
    [InlineData(0.0009765625f, 0x00)] // 0.5 × 2^−9 → 0 (ties to even)
    [InlineData(0f, 0x00)]
    [InlineData(-0f, 0x80)]
    public void Encode_RoundsToNearestEven_AndSaturates(float value, int bits) =>
        Assert.Equal((byte)bits, Float8E4M3FN.Encode(value));

    [Fact]
    public void Encode_NaN_IsTheNaNPattern() => Assert.Equal(0x7F, Float8E4M3FN.Encode(float.NaN));

    [Fact]
    public void Decode_EveryFinitePattern_EncodesBackToItself_AndNaNPatternsAreNaN()
    {
        for (int b = 0; b < 256; b++)
        {
            float v = Float8E4M3FN.Decode((byte)b);
            if ((b & 0x7F) == 0x7F) { Assert.True(float.IsNaN(v), $"0x{b:X2}"); continue; }
            Assert.Equal((byte)b, Float8E4M3FN.Encode(v));
            Assert.Equal(v, FloatQuantizeReference.Round(v, FloatFormat.E4M3));
        }
        Assert.Equal(448f, Float8E4M3FN.Decode(0x7E));
        Assert.Equal(-0.001953125f, Float8E4M3FN.Decode(0x81));
    }
}
