using QuantSharp.Engine;
using QuantSharp.Quantization.Calibration;

namespace QuantSharp.Quantization.Tests.Calibration;

public class NonNegativeEntropyAnalyzerTests
{
    private static Tensor<float> Values(IEnumerable<double> values) { var a = values.Select(v => (float)v).ToArray(); return Tensor.FromArray(a, a.Length); }

    /// <summary>Post-ReLU-like data: half exact zeros, the rest exponential (mean 1) — a long sparse tail.</summary>
    private static Tensor<float> LongTail(int n, int seed)
    {
        var rng = new Random(seed);
        return Values(Enumerable.Range(0, n).Select(i => i % 2 == 0 ? 0 : -Math.Log(1 - rng.NextDouble())));
    }

    [Fact]
    public void SignedData_GetsTheMinMaxEncoding()
    {
        var a = new NonNegativeEntropyEncodingAnalyzer();
        var x = LongTail(20000, 1);
        x.Data[3] = -0.5f;
        a.Collect(x);
        var e = a.ComputeEncoding(8, symmetric: false);
        var minMax = new MinMaxEncodingAnalyzer();
        minMax.Collect(x);
        Assert.Equal(EntropyChoice.SignedData, a.Choice);
        Assert.Equal(minMax.ComputeEncoding(8, symmetric: false).Maxs[0], e.Maxs[0], 12);
    }

    [Fact]
    public void BimodalData_WhoseKlRangeCutsAMode_GetsTheMinMaxEncoding()
    {
        // A small spike of activations far from zero (3 % of the values) beside a ReLU-like bulk near zero.
        var rng = new Random(2);
        var x = Values(Enumerable.Range(0, 20000).Select(i => i % 33 == 0 ? 5 + 0.05 * rng.NextDouble() : i % 2 == 1 ? 0 : 0.3 * rng.NextDouble()));
        var a = new NonNegativeEntropyEncodingAnalyzer();
        a.Collect(x);
        var e = a.ComputeEncoding(8, symmetric: false);
        var plainKl = new EntropyEncodingAnalyzer();
        plainKl.Collect(x);
        double klMax = plainKl.ComputeEncoding(8, symmetric: false).Maxs[0];
        Assert.True(klMax < 4, $"the plain KL search was expected to cut the mode at 5, kept {klMax}");
        Assert.Equal(EntropyChoice.ClipsTooMuch, a.Choice);
        Assert.True(e.Maxs[0] >= 5, $"max {e.Maxs[0]}");
    }

    [Fact]
    public void NonNegativeDataWithRareOutliers_KeepsTheKlRange_WhereItsErrorIsBelowMinMax()
    {
        // At 4 bits min/max spends its 15 steps on two outliers; the KL range keeps the bulk finely quantized.
        var rng = new Random(3);
        var values = Enumerable.Range(0, 200000).Select(_ => rng.NextDouble()).ToArray();
        values[10] = values[20] = 20;
        var a = new NonNegativeEntropyEncodingAnalyzer();
        a.Collect(Values(values));
        var e = a.ComputeEncoding(4, symmetric: false);
        var plainKl = new EntropyEncodingAnalyzer();
        plainKl.Collect(Values(values));
        Assert.Equal(EntropyChoice.Entropy, a.Choice);
        Assert.Equal(plainKl.ComputeEncoding(4, symmetric: false).Maxs[0], e.Maxs[0], 6);
        Assert.True(e.Maxs[0] < 2, $"max {e.Maxs[0]}");
    }

    [Fact]
    public void LongTailedReluData_At8Bits_FallsBack_BecauseTheKlRangeClipsMoreThanRoundingCosts()
    {
        // Half zeros, half Exp(1): the KL range is about 3 where the maximum is about 12; at 8 bits clipping ~5 % of the
        // non-zero values costs far more squared error than min/max rounding, so the guard keeps min/max.
        var a = new NonNegativeEntropyEncodingAnalyzer();
        a.Collect(LongTail(200000, 3));
        a.ComputeEncoding(8, symmetric: false);
        Assert.Equal(EntropyChoice.ClipsTooMuch, a.Choice);
    }
}
