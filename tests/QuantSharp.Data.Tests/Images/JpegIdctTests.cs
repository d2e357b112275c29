using QuantSharp.Data.Images;

namespace QuantSharp.Data.Tests.Images;

/// <summary>The AVX2 islow IDCT agrees bit for bit with the scalar reference.</summary>
public class JpegIdctTests
{
    [Theory]
    [InlineData(1, 0)]     // DC only
    [InlineData(2, 3)]     // a few low frequencies
    [InlineData(3, 63)]    // every coefficient
    public unsafe void Vector_MatchesScalarReference_BitExact(int seed, int lastIndex)
    {
        var rng = new Random(seed);
        var coef = new short[64];
        var quant = new ushort[64];
        var a = new byte[8 * 12];
        var b = new byte[8 * 12];
        for (int trial = 0; trial < 300; trial++)
        {
            Array.Clear(coef);
            for (int k = 0; k < 64; k++) quant[k] = (ushort)rng.Next(1, trial % 3 == 0 ? 4 : 64);
            for (int k = 0; k <= lastIndex; k++)
            {
                int z = JpegFrame.ZigZag[k];
                coef[z] = (short)(k == 0 ? rng.Next(-1024, 1024) / quant[z] : rng.Next(-200, 201) / Math.Max(1, quant[z] / 4));
            }
            fixed (short* c = coef)
            fixed (ushort* q = quant)
            fixed (byte* pa = a, pb = b)
            {
                JpegIdct.Transform(c, q, pa + 2, 12);
                JpegIdct.TransformScalar(c, q, pb + 2, 12);
            }
            Assert.Equal(b, a);
        }
    }
}
