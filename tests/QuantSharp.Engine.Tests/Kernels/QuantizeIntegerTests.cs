using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>Exact integer products on the float kernels: MatMulInteger, ConvInteger (with the exactness split) and requantization.</summary>
public class QuantizeIntegerTests
{
    private static Tensor<byte> Bytes(Random rng, params int[] shape)
    {
        var t = new Tensor<byte>(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = (byte)rng.Next(0, 256);
        return t;
    }

    private static Tensor<sbyte> SBytes(Random rng, params int[] shape)
    {
        var t = new Tensor<sbyte>(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = (sbyte)rng.Next(-128, 128);
        return t;
    }

    /// <summary>Plain long-accumulating reference of a 2-D matrix product with per-tensor zero points.</summary>
    private static long[] NaiveMatMul(int[] a, int[] b, int m, int k, int n, int za, int zb)
    {
        var y = new long[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                long s = 0;
                for (int p = 0; p < k; p++) s += (long)(a[i * k + p] - za) * (b[p * n + j] - zb);
                y[i * n + j] = s;
            }
        return y;
    }

    [Fact]
    public void MatMulInteger_HandVector_WithZeroPoints()
    {
        var a = Tensor.FromArray(new byte[] { 11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0 }, 4, 3);
        var b = Tensor.FromArray(new byte[] { 1, 4, 2, 5, 3, 6 }, 3, 2);
        // ONNX's own example: a_zero_point 12, b_zero_point 0.
        var y = QuantizeInteger.MatMul(a, b, [12], [0]);
        Assert.Equal(new[] { -38, -83, -44, -98, -50, -113, -56, -128 }, y.Data);
    }

    [Fact]
    public void MatMulInteger_LongReduction_SplitsAndStaysExact()
    {
        // K = 1500 with |products| up to 255² exceeds 2^24: the kernel splits K and must still be exact.
        var rng = new Random(3);
        var a = Bytes(rng, 5, 1500);
        var b = Bytes(rng, 1500, 9);
        var y = QuantizeInteger.MatMul(a, b, [0], [0]);
        var expected = NaiveMatMul(a.Data.Select(v => (int)v).ToArray(), b.Data.Select(v => (int)v).ToArray(), 5, 1500, 9, 0, 0);
        Assert.Equal(expected.Select(v => (int)v).ToArray(), y.Data);
        Assert.True(expected.Max() > 1 << 24);
    }

    [Fact]
    public void MatMulInteger_BatchedPerRowAndPerColumnZeroPoints_MatchReference()
    {
        var rng = new Random(4);
        var a = SBytes(rng, 2, 3, 400);
        var b = SBytes(rng, 400, 4);
        int[] za = [1, -2, 3], zb = [0, 5, -5, 7];
        var y = QuantizeInteger.MatMul(a, b, za, zb);
        Assert.Equal([2, 3, 4], y.Shape);
        for (int batch = 0; batch < 2; batch++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++)
                {
                    long s = 0;
                    for (int p = 0; p < 400; p++) s += (long)(a.Data[(batch * 3 + i) * 400 + p] - za[i]) * (b.Data[p * 4 + j] - zb[j]);
                    Assert.Equal((int)s, y[batch, i, j]);
                }
    }

    private static int[] NaiveConv(Tensor<byte> x, Tensor<byte> w, int zx, int[] zw, int pad, int groups)
    {
        int n = x.Dims[0], c = x.Dims[1], h = x.Dims[2], wd = x.Dims[3];
        int m = w.Dims[0], cg = w.Dims[1], kh = w.Dims[2], kw = w.Dims[3];
        int oh = h + 2 * pad - kh + 1, ow = wd + 2 * pad - kw + 1, mg = m / groups;
        var y = new int[n * m * oh * ow];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < m; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        long s = 0;
                        for (int ci = 0; ci < cg; ci++)
                            for (int u = 0; u < kh; u++)
                                for (int v = 0; v < kw; v++)
                                {
                                    int yy = i + u - pad, xx = j + v - pad;
                                    int xv = yy < 0 || yy >= h || xx < 0 || xx >= wd ? zx : x[b, o / mg * cg + ci, yy, xx];
                                    s += (long)(xv - zx) * (w[o, ci, u, v] - zw[zw.Length == 1 ? 0 : o]);
                                }
                        y[((b * m + o) * oh + i) * ow + j] = (int)s;
                    }
        return y;
    }

    [Fact]
    public void ConvInteger_PaddingHoldsInputZeroPoint_MatchesReference()
    {
        var rng = new Random(5);
        var x = Bytes(rng, 2, 3, 6, 5);
        var w = Bytes(rng, 4, 3, 3, 3);
        var y = QuantizeInteger.Conv(x, w, 100, [128, 127, 1, 0], ConvParams.Uniform(2, pad: 1));
        Assert.Equal(NaiveConv(x, w, 100, [128, 127, 1, 0], 1, 1), y.Data);
    }

    [Fact]
    public void ConvInteger_GroupedLongReduction_SplitsChannelsAndStaysExact()
    {
        // 32 channels per group × 9 taps × 255² > 2^24: per-group channel slices.
        var rng = new Random(6);
        var x = Bytes(rng, 1, 64, 4, 4);
        var w = Bytes(rng, 4, 32, 3, 3);
        var y = QuantizeInteger.Conv(x, w, 0, [0], ConvParams.Uniform(2, pad: 1, groups: 2));
        Assert.Equal(NaiveConv(x, w, 0, [0], 1, 2), y.Data);
    }

    [Fact]
    public void Requantize_RoundsHalfEvenAndSaturates()
    {
        var acc = Tensor.FromArray(new[] { -300, 0, 5, 255, 1000 }, 5);
        Assert.Equal(new byte[] { 0, 10, 12, 138, 255 }, QuantizeInteger.Requantize<byte>(acc, [0.5f], 0, 10, 0, 255).Data);
        var perChannel = Tensor.FromArray(new[] { 3, 3, 3, 3 }, 2, 2);
        Assert.Equal(new sbyte[] { 2, 2, 6, 6 }, QuantizeInteger.Requantize<sbyte>(perChannel, [0.5f, 2f], 0, 0, -128, 127).Data);
    }

    [Fact]
    public void Errors_NonIntegerOperandAndZeroPointLength_NameArgument()
    {
        var e = Assert.Throws<ShapeException>(() => QuantizeInteger.MatMul(new Tensor<float>(2, 2), new Tensor<byte>(2, 2), [0], [0]));
        Assert.Contains("MatMulInteger: argument 'A' expected an int8, uint8, int16, uint16 or int32 tensor, got Float32", e.Message);
        var z = Assert.Throws<ShapeException>(() => QuantizeInteger.MatMul(new Tensor<byte>(2, 3), new Tensor<byte>(3, 2), [0, 0, 0], [0]));
        Assert.Contains("MatMulInteger: argument 'A_zero_point' expected 1 or 2 values", z.Message);
    }
}
