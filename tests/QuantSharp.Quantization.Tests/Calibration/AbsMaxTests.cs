using QuantSharp.Quantization.Calibration;

namespace QuantSharp.Quantization.Tests.Calibration;

public class AbsMaxTests
{
    [Fact]
    public void AbsMax_VectorMatchesScalarReference_Lengths0To256()
    {
        var rng = new Random(7);
        for (int n = 0; n <= 256; n++)
        {
            var x = new float[n];
            for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 20 - 10);
            if (n > 3 && n % 5 == 0) x[rng.Next(n)] = float.NaN;
            if (n > 3 && n % 7 == 0) x[rng.Next(n)] = float.NegativeInfinity;
            float v = AbsMax.Compute(x, out int bad);
            float r = AbsMaxReference.Compute(x, out int badRef);
            Assert.Equal(BitConverter.SingleToInt32Bits(r), BitConverter.SingleToInt32Bits(v));
            Assert.Equal(badRef, bad);
        }
    }

    [Fact]
    public void AbsMax_NegativeExtreme_IsReturnedAsMagnitude()
    {
        var x = new float[37];
        x[30] = -5.5f;
        x[3] = 2f;
        Assert.Equal(5.5f, AbsMax.Compute(x, out int bad));
        Assert.Equal(0, bad);
    }
}
