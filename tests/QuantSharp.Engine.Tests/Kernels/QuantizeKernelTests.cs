using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>Hand-computed vectors for the affine quantization kernels: integers, dequantized values and clip masks.</summary>
public class QuantizeKernelTests
{
    private static Tensor<float> T(params float[] v) => Tensor.FromArray(v, v.Length);

    [Fact]
    public void Quantize_TiesAtHalf_RoundsToEven()
    {
        var q = QuantizeKernels.Quantize<sbyte>(T(2.5f, 3.5f, -2.5f, -3.5f, 0.5f, -0.5f, 1.5f), QuantParams.PerTensor(1f, 0, -128, 127));
        Assert.Equal(new sbyte[] { 2, 4, -2, -4, 0, 0, 2 }, q.Data);
    }

    [Fact]
    public void Quantize_UInt8WithZeroPoint_ClampsAndMasks()
    {
        var x = T(-6f, -5.25f, -1.25f, 0f, 0.25f, 0.75f, 1.25f, 1.75f, 122.5f, 123f, 200f);
        var p = QuantParams.PerTensor(0.5f, 10, 0, 255);
        Assert.Equal(new byte[] { 0, 0, 8, 10, 10, 12, 12, 14, 255, 255, 255 }, QuantizeKernels.Quantize<byte>(x, p).Data);
        var mask = new Tensor<bool>(x.Dims);
        var fake = QuantizeKernels.FakeQuantize(x, p, mask);
        Assert.Equal([-5f, -5f, -1f, 0f, 0f, 1f, 1f, 2f, 122.5f, 122.5f, 122.5f], fake.Data);
        Assert.Equal([false, true, true, true, true, true, true, true, true, false, false], mask.Data);
        var dq = QuantizeKernels.Dequantize(QuantizeKernels.Quantize<byte>(x, p), p);
        Assert.Equal(fake.Data, dq.Data);
    }

    [Fact]
    public void Quantize_4BitSignedFullRange_HandVector()
    {
        var x = T(-2.5f, -2.0f, -1.125f, 0.375f, 1.0f, 1.75f, 1.875f, 3.0f);
        var (lo, hi) = QuantRange.Of(4, signed: true);
        Assert.Equal((-8, 7), (lo, hi));
        var p = QuantParams.PerTensor(0.25f, 0, lo, hi);
        Assert.Equal(new sbyte[] { -8, -8, -4, 2, 4, 7, 7, 7 }, QuantizeKernels.Quantize<sbyte>(x, p).Data);
        var mask = new Tensor<bool>(x.Dims);
        Assert.Equal([-2f, -2f, -1f, 0.5f, 1f, 1.75f, 1.75f, 1.75f], QuantizeKernels.FakeQuantize(x, p, mask).Data);
        Assert.Equal([false, true, true, true, true, true, false, false], mask.Data);
    }

    [Fact]
    public void Quantize_4BitSignedNarrowRange_DropsLowestLevel()
    {
        var x = T(-2.5f, -2.0f, -1.125f, 0.375f, 1.0f, 1.75f, 1.875f, 3.0f);
        var (lo, hi) = QuantRange.Of(4, signed: true, narrow: true);
        Assert.Equal((-7, 7), (lo, hi));
        var p = QuantParams.PerTensor(0.25f, 0, lo, hi);
        Assert.Equal(new sbyte[] { -7, -7, -4, 2, 4, 7, 7, 7 }, QuantizeKernels.Quantize<sbyte>(x, p).Data);
        var mask = new Tensor<bool>(x.Dims);
        Assert.Equal([-1.75f, -1.75f, -1f, 0.5f, 1f, 1.75f, 1.75f, 1.75f], QuantizeKernels.FakeQuantize(x, p, mask).Data);
        Assert.Equal([false, false, true, true, true, true, false, false], mask.Data);
    }

    [Fact]
    public void Quantize_4BitUnsignedWithZeroPoint_HandVector()
    {
        var x = T(-2.0f, -1.5f, -1.25f, 0.25f, 2.75f, 6.0f, 6.25f, 7.0f);
        var (lo, hi) = QuantRange.Of(4, signed: false);
        Assert.Equal((0, 15), (lo, hi));
        var p = QuantParams.PerTensor(0.5f, 3, lo, hi);
        Assert.Equal(new byte[] { 0, 0, 1, 3, 9, 15, 15, 15 }, QuantizeKernels.Quantize<byte>(x, p).Data);
        var mask = new Tensor<bool>(x.Dims);
        Assert.Equal([-1.5f, -1.5f, -1f, 0f, 3f, 6f, 6f, 6f], QuantizeKernels.FakeQuantize(x, p, mask).Data);
        Assert.Equal([false, true, true, true, true, true, true, false], mask.Data);
    }

    [Fact]
    public void Quantize_8BitRanges_FullNarrowSignedUnsigned()
    {
        Assert.Equal((-128, 127), QuantRange.Of(8, true));
        Assert.Equal((-127, 127), QuantRange.Of(8, true, narrow: true));
        Assert.Equal((0, 255), QuantRange.Of(8, false));
        Assert.Equal((1, 255), QuantRange.Of(8, false, narrow: true));
        Assert.Equal((-2, 1), QuantRange.Of(2, true));
        Assert.Equal((0, 65535), QuantRange.Of(16, false));
        var x = T(-200f, -127.5f, -126.5f, 126.5f, 200f);
        Assert.Equal(new sbyte[] { -128, -128, -126, 126, 127 }, QuantizeKernels.Quantize<sbyte>(x, QuantParams.PerTensor(1f, 0, -128, 127)).Data);
        Assert.Equal(new sbyte[] { -127, -127, -126, 126, 127 }, QuantizeKernels.Quantize<sbyte>(x, QuantParams.PerTensor(1f, 0, -127, 127)).Data);
    }

    [Fact]
    public void Quantize_PerChannelAxis0_UsesEachRowsScaleAndZeroPoint()
    {
        var x = Tensor.FromArray([1.25f, -0.75f, 100f, 3f, -5f, 7f], 2, 3);
        var p = QuantParams.PerAxis([0.5f, 2f], [0, -1], 0, -128, 127);
        Assert.Equal(new sbyte[] { 2, -2, 127, 1, -3, 3 }, QuantizeKernels.Quantize<sbyte>(x, p).Data);
        var mask = new Tensor<bool>(x.Dims);
        Assert.Equal([1f, -1f, 63.5f, 4f, -4f, 8f], QuantizeKernels.FakeQuantize(x, p, mask).Data);
        Assert.Equal([true, true, false, true, true, true], mask.Data);
    }

    [Fact]
    public void Quantize_PerChannelLastAxis_UInt8()
    {
        var x = Tensor.FromArray([0.3f, 0.75f, -1f, -1f, 10f, 10f], 3, 2);
        var p = QuantParams.PerAxis([0.125f, 0.5f], [128, 0], -1, 0, 255);
        // Column 0: 2.4 → 2, −8, 80 (+128); column 1: 1.5 → 2 (tie to even), −2 → clipped to 0, 20.
        var q = QuantizeKernels.Quantize<byte>(x, p);
        Assert.Equal(new byte[] { 130, 2, 120, 0, 208, 20 }, q.Data);
        Assert.Equal([0.25f, 1f, -1f, 0f, 10f, 10f], QuantizeKernels.Dequantize(q, p).Data);
    }

    [Fact]
    public void Dequantize_Int16AndInt32_SubtractsZeroPointExactly()
    {
        var q16 = Tensor.FromArray(new short[] { -32768, 0, 32767 }, 3);
        Assert.Equal([-32768f * 0.5f - 0.5f, -0.5f, 32766 * 0.5f], QuantizeKernels.Dequantize(q16, QuantParams.PerTensor(0.5f, 1, -32768, 32767)).Data);
        var q32 = Tensor.FromArray(new[] { -1000000, 5, 1 << 20 }, 3);
        Assert.Equal([-1000000 * 0.25f, 1.25f, (1 << 20) * 0.25f], QuantizeKernels.Dequantize(q32, QuantParams.PerTensor(0.25f, 0, int.MinValue, int.MaxValue)).Data);
    }

    [Fact]
    public void Quantize_NaN_GivesZeroPointAndCountsAsClipped()
    {
        var x = T(float.NaN, float.PositiveInfinity, float.NegativeInfinity);
        var p = QuantParams.PerTensor(1f, 5, 0, 255);
        Assert.Equal(new byte[] { 5, 255, 0 }, QuantizeKernels.Quantize<byte>(x, p).Data);
        var mask = new Tensor<bool>(x.Dims);
        Assert.Equal([0f, 250f, -5f], QuantizeKernels.FakeQuantize(x, p, mask).Data);
        Assert.Equal([false, false, false], mask.Data);
    }

    [Fact]
    public void FakeQuantize_PytorchQuantizationDocumentedExample_Matches()
    {
        // pytorch_quantization.tensor_quant.fake_tensor_quant(x, x.abs().max()), 8-bit narrow signed; the docs print
        // scale = 128.0057 (levels per unit), i.e. amax = 127/128.0057 = 0.99215: the printed x are rounded to 4 decimals.
        float[] xs = [0.9817f, 0.8796f, 0.9921f, 0.4611f, 0.0832f, 0.1784f, 0.3674f, 0.5676f, 0.3376f, 0.2119f];
        sbyte[] integers = [126, 113, 127, 59, 11, 23, 47, 73, 43, 27];
        float[] expected = [0.9843f, 0.8828f, 0.9921f, 0.4609f, 0.0859f, 0.1797f, 0.3672f, 0.5703f, 0.3359f, 0.2109f];

        var documented = QuantParams.PerTensor(1f / 128.0057f, 0, -127, 127);
        Assert.Equal(integers, QuantizeKernels.Quantize<sbyte>(T(xs), documented).Data);
        var fake = QuantizeKernels.FakeQuantize(T(xs), documented);
        for (int i = 0; i < xs.Length; i++) Assert.Equal(expected[i], fake.Data[i], 4);

        // amax = max|x| of the printed (rounded) inputs: scale 128.01, same integers, fake values within 1e-4.
        float amax = xs.Max(MathF.Abs);
        Assert.Equal(128.0, 127.0 / amax, 0);
        var p = QuantParams.PerTensor(amax / 127f, 0, -127, 127);
        Assert.Equal(integers, QuantizeKernels.Quantize<sbyte>(T(xs), p).Data);
        var fake2 = QuantizeKernels.FakeQuantize(T(xs), p);
        for (int i = 0; i < xs.Length; i++) Assert.InRange(fake2.Data[i], expected[i] - 1e-4f, expected[i] + 1e-4f);
    }

    [Fact]
    public void StochasticRounding_IsSeededFloorOrCeil_WithUnbiasedMean()
    {
        var x = Tensor.Full(0.3f, 20000);
        var p = QuantParams.PerTensor(1f, 0, -128, 127) with { Rounding = QuantRounding.Stochastic, Seed = 42 };
        var a = QuantizeKernels.Quantize<sbyte>(x, p);
        var b = QuantizeKernels.Quantize<sbyte>(x, p);
        var c = QuantizeKernels.Quantize<sbyte>(x, p with { Seed = 43 });
        Assert.Equal(a.Data, b.Data);
        Assert.NotEqual(a.Data, c.Data);
        Assert.All(a.Data, v => Assert.True(v is 0 or 1));
        Assert.InRange(a.Data.Average(v => (double)v), 0.28, 0.32);
        // The fake-quantized mean is unbiased as well.
        Assert.InRange(QuantizeKernels.FakeQuantize(x, p).Data.Average(), 0.28, 0.32);
    }

    [Fact]
    public void StraightThrough_PassesGradientOnlyWhereNotClipped()
    {
        var x = T(-6f, -5.25f, 0f, 122.5f, 123f, float.NaN);
        var g = T(1f, 2f, 3f, 4f, 5f, 6f);
        var gx = QuantizeKernels.FakeQuantizeBackward(x, g, QuantParams.PerTensor(0.5f, 10, 0, 255));
        Assert.Equal([0f, 2f, 3f, 4f, 0f, 0f], gx.Data);
    }

    [Fact]
    public void Errors_BitsOutOfRange_NameArgumentAndValue()
    {
        var e = Assert.Throws<ShapeException>(() => QuantRange.Of(1, true));
        Assert.Contains("QuantRange: argument 'bits' expected 2..16, got 1", e.Message);
        Assert.Contains("got 17", Assert.Throws<ShapeException>(() => QuantRange.Of(17, false)).Message);
        var wide = Assert.Throws<ShapeException>(() => QuantizeKernels.FakeQuantize(T(1f), QuantParams.PerTensor(1f, 0, 0, 1)));
        Assert.Contains("FakeQuantize: argument 'qmin/qmax'", wide.Message);
        Assert.Contains("[0, 1]", wide.Message);
    }

    [Theory]
    [InlineData(0f, "got 0")]
    [InlineData(-1f, "got -1")]
    [InlineData(float.NaN, "got NaN")]
    [InlineData(float.PositiveInfinity, "got Infinity")]
    public void Errors_ScaleNotPositiveFinite_Throws(float scale, string got)
    {
        var e = Assert.Throws<ShapeException>(() => QuantizeKernels.Quantize<byte>(T(1f), QuantParams.PerTensor(scale, 0, 0, 255)));
        Assert.Contains("Quantize: argument 'scale' expected finite values > 0", e.Message);
        Assert.Contains(got, e.Message);
    }

    [Fact]
    public void Errors_ZeroPointOutOfRange_Throws()
    {
        var e = Assert.Throws<ShapeException>(() => QuantizeKernels.Quantize<sbyte>(T(1f), QuantParams.PerTensor(1f, 128, -128, 127)));
        Assert.Contains("Quantize: argument 'zeroPoint' expected values in [-128, 127], got 128", e.Message);
    }

    [Fact]
    public void Errors_AxisOutOfRangeAndScaleCountMismatch_Throw()
    {
        var x = new Tensor<float>(2, 3);
        var axis = Assert.Throws<ShapeException>(() => QuantizeKernels.FakeQuantize(x, QuantParams.PerAxis([1f, 1f], [0, 0], 2, 0, 255)));
        Assert.Contains("FakeQuantize: argument 'axis' expected an axis in [-2, 1], got 2", axis.Message);
        var count = Assert.Throws<ShapeException>(() => QuantizeKernels.FakeQuantize(x, QuantParams.PerAxis([1f, 1f], [0, 0], 1, 0, 255)));
        Assert.Contains("FakeQuantize: argument 'scale' expected 3 scales (dimension 1 of shape [2,3]), got 2", count.Message);
    }

    [Fact]
    public void Errors_RangeOutsideElementType_Throws()
    {
        var e = Assert.Throws<ShapeException>(() => QuantizeKernels.Quantize<sbyte>(T(1f), QuantParams.PerTensor(1f, 0, 0, 255)));
        Assert.Contains("Quantize: argument 'qmin/qmax' expected a range within SByte's [-128, 127], got [0, 255]", e.Message);
    }
}
