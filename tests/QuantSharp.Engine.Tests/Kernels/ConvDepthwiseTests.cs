using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Tests.Kernels.ConvTestCases;

namespace QuantSharp.Engine.Tests.Kernels;

public class ConvDepthwiseTests
{
    private static void CheckAllWidths(int[] xShape, int k, ConvParams p, string what)
    {
        int c = xShape[1];
        int[] wShape = xShape.Length == 4 ? [c, 1, k, k] : [c, 1, k];
        var geo = ConvGeometry.ForConv("Conv", xShape, wShape, p);
        Assert.True(geo.IsDepthwise2D);
        var x = Rand(31, xShape);
        var w = Rand(32, wShape);
        var b = Rand(33, c);
        var yRef = new Tensor<float>(geo.OutputShape);
        ConvReference.ForwardCore(geo, x.Data, w.Data, b.Data, yRef.Data);
        var gy = Rand(34, geo.OutputShape);
        var gxRef = new Tensor<float>(geo.InputShape);
        ConvReference.BackwardDataCore(geo, gy.Data, w.Data, gxRef.Data);
        var gwRef = new Tensor<float>(wShape);
        ConvReference.BackwardWeightCore(geo, x.Data, gy.Data, gwRef.Data);
        foreach (int width in new[] { 16, 8, 1 })
        {
            var y = new Tensor<float>(geo.OutputShape);
            DepthwiseConv.Forward(geo, x.Data, w.Data, b.Data, y.Data, width);
            AssertClose(yRef, y, $"{what} forward width {width}");
            var gx = Tensor.Full(float.NaN, geo.InputShape);
            DepthwiseConv.BackwardData(geo, gy.Data, w.Data, gx.Data, width);
            AssertClose(gxRef, gx, $"{what} backward-data width {width}");
            var gw = Tensor.Full(float.NaN, wShape);
            DepthwiseConv.BackwardWeight(geo, x.Data, gy.Data, gw.Data, width);
            AssertClose(gwRef, gw, $"{what} backward-weight width {width}");
        }
    }

    /// <summary>
    /// Planes of 1 to 16 pixels that keep their size run packed, several per vector, with a lane permutation per tap: the
    /// row kernel's bits (taps in the same order, padding zeros included) and the reference's values, with and without bias.
    /// </summary>
    [Theory]
    [InlineData(1, 1, 3, 1, 1)]
    [InlineData(1, 2, 3, 1, 1)]
    [InlineData(2, 2, 3, 1, 1)]
    [InlineData(2, 2, 5, 2, 1)]
    [InlineData(2, 4, 3, 1, 1)]
    [InlineData(4, 4, 3, 1, 1)]
    [InlineData(4, 4, 5, 2, 1)]
    [InlineData(4, 4, 3, 2, 2)]
    [InlineData(4, 2, 1, 0, 1)]
    public void DepthwisePackedPlanes_GiveTheRowKernelsBits_AndMatchReference(int ih, int iw, int k, int pad, int dilation)
    {
        // Taken exactly where AVX-512 is (CI also runs these tests with it switched off: then both runs below are the row kernel).
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported,
            DepthwiseConv.PreferPackedPlanes(ConvGeometry.ForConv("Conv", [3, 16, ih, iw], [16, 1, k, k], ConvParams.Uniform(2, 1, pad, dilation, groups: 16)), 16));
        foreach (bool withBias in new[] { true, false })
        {
            int[] xShape = [3, 16, ih, iw], wShape = [16, 1, k, k];
            var geo = ConvGeometry.ForConv("Conv", xShape, wShape, ConvParams.Uniform(2, 1, pad, dilation, groups: 16));
            var x = Rand(51, xShape);
            var w = Rand(52, wShape);
            var b = withBias ? Rand(53, 16) : null;
            var yRef = new Tensor<float>(geo.OutputShape);
            ConvReference.ForwardCore(geo, x.Data, w.Data, b?.Data, yRef.Data);
            var packed = Tensor.Full(float.NaN, geo.OutputShape);
            DepthwiseConv.Forward(geo, x.Data, w.Data, b?.Data, packed.Data, 16);
            var rows = Tensor.Full(float.NaN, geo.OutputShape);
            try
            {
                DepthwiseConv.ForceRows = true;
                DepthwiseConv.Forward(geo, x.Data, w.Data, b?.Data, rows.Data, 16);
            }
            finally { DepthwiseConv.ForceRows = false; }
            Assert.True(rows.Data.SequenceEqual(packed.Data), $"{ih}x{iw} k{k} pad {pad} dilation {dilation} bias {withBias}: packed planes differ from the row kernel");
            AssertClose(yRef, packed, $"{ih}x{iw} k{k}");
        }
    }

    [Fact]
    public void Depthwise_AllRowLengths1To80_AllWidthsMatchReference()
    {
        for (int iw = 1; iw <= 80; iw++)
            CheckAllWidths([1, 2, 3, iw], 3, ConvParams.Uniform(2, pad: 1, groups: 2), $"k3 pad1 width {iw}");
    }

    [Theory]
    [InlineData(1, 1, 0, 1)]
    [InlineData(3, 2, 1, 1)]
    [InlineData(3, 1, 2, 2)]
    [InlineData(5, 2, 2, 1)]
    [InlineData(3, 3, 1, 2)]
    [InlineData(7, 1, 3, 1)]
    [InlineData(1, 3, 2, 1)]
    [InlineData(2, 3, 0, 1)]
    [InlineData(3, 1, 4, 1)]
    public void Depthwise_KernelStrideDilationPad_AllWidthsMatchReference(int k, int stride, int pad, int dilation)
    {
        foreach (int iw in new[] { 9, 17, 33, 70 })
            CheckAllWidths([2, 3, 11, iw], k, ConvParams.Uniform(2, stride, pad, dilation, groups: 3), $"k{k} s{stride} p{pad} d{dilation} w{iw}");
    }

    [Fact]
    public void Depthwise_AsymmetricPadsAndMixedStrides_AllWidthsMatchReference()
    {
        CheckAllWidths([1, 4, 10, 23], 3, new ConvParams([2, 1], [0, 2], [2, 0], [1, 2], 4), "asym");
        CheckAllWidths([2, 3, 7, 29], 3, new ConvParams([1, 2], [1, 0], [0, 1], [2, 1], 3), "mixed");
    }

    [Fact]
    public void Depthwise_KernelSpanningWholePaddedInput_AllWidthsMatchReference()
    {
        // One output pixel per plane: the dilated kernel covers the padded input exactly.
        CheckAllWidths([2, 3, 5, 5], 3, ConvParams.Uniform(2, pad: 1, dilation: 3, groups: 3), "k3 d3 on 5+2");
        CheckAllWidths([1, 2, 3, 3], 5, ConvParams.Uniform(2, pad: 1, groups: 2), "k5 on 3+2");
    }

    [Fact]
    public void Depthwise_OneDimensional_AllWidthsMatchReference()
    {
        CheckAllWidths([2, 3, 45], 5, new ConvParams([2], [1], [3], [2], 3), "1-D");
        CheckAllWidths([1, 2, 16], 3, ConvParams.Uniform(1, pad: 1, groups: 2), "1-D exact vector");
    }

    [Fact]
    public void Depthwise_ManyPlanes_ParallelSplitMatchesReference()
    {
        var p = ConvParams.Uniform(2, pad: 1, groups: 24);
        var x = Rand(41, 3, 24, 12, 20);
        var w = Rand(42, 24, 1, 3, 3);
        var y = Conv.Forward(x, w, null, p);
        AssertClose(ConvReference.Forward(x, w, null, p), y, "forward");
        var gy = Rand(43, y.Shape);
        AssertClose(ConvReference.BackwardData(gy, w, x.Dims, p), Conv.BackwardData(gy, w, x.Dims, p), "backward-data");
        AssertClose(ConvReference.BackwardWeight(x, gy, w.Dims, p), Conv.BackwardWeight(x, gy, w.Dims, p), "backward-weight");
    }

    [Fact]
    public unsafe void RowGather_Lengths0To256_AllWidthsBitExactWithScalarFormula()
    {
        // Every width accumulates each element's taps in the same order with FMA, so results agree bit for bit.
        var rng = new Random(61);
        var src = new float[3 * 300 + 64];
        for (int i = 0; i < src.Length; i++) src[i] = rng.NextSingle() * 2 - 1;
        int[] offs = [0, 1, 2, 300, 301, 302, 600, 601, 602];
        float[] wts = [0.5f, -1.25f, 2f, 0.75f, -0.5f, 1.5f, -2f, 0.25f, 1f];
        var expected = new float[256];
        var actual = new float[256];
        fixed (float* s = src, w = wts, e = expected, a = actual)
        fixed (int* o = offs)
        {
            float* tail = stackalloc float[16];
            for (int n = 0; n <= 256; n++)
            {
                for (int j = 0; j < n; j++)
                {
                    float acc = 0.125f;
                    for (int t = 0; t < offs.Length; t++) acc = MathF.FusedMultiplyAdd(src[offs[t] + j], wts[t], acc);
                    e[j] = acc;
                }
                foreach (int width in new[] { 16, 8, 1 })
                {
                    Array.Fill(actual, float.NaN);
                    DepthwiseConv.RowGather(s, o, w, offs.Length, 0.125f, a, n, tail, width);
                    for (int j = 0; j < n; j++) Assert.Equal(e[j], a[j]);
                    for (int j = n; j < 256; j++) Assert.True(float.IsNaN(a[j]), $"width {width} n {n}: wrote past the end at {j}");
                }
            }
        }
    }

    [Fact]
    public unsafe void AddInto_Lengths0To256_BitExactWithScalar()
    {
        var rng = new Random(62);
        for (int n = 0; n <= 256; n++)
        {
            var a = new float[n];
            var b = new float[n];
            for (int i = 0; i < n; i++) { a[i] = rng.NextSingle(); b[i] = rng.NextSingle(); }
            var expected = a.Select((v, i) => v + b[i]).ToArray();
            fixed (float* pa = a, pb = b) ConvIm2Col.AddInto(pa, pb, n);
            Assert.Equal(expected, a);
        }
    }

    [Fact]
    public unsafe void GatherStride2_Lengths0To256_BitExactWithScalar()
    {
        var src = Enumerable.Range(0, 600).Select(i => i * 0.5f - 7f).ToArray();
        var dst = new float[300];
        fixed (float* s = src, d = dst)
            for (int lo = 0; lo < 3; lo++)
                for (int hi = lo; hi <= lo + 256; hi++)
                {
                    Array.Fill(dst, float.NaN);
                    // The last readable index stops exactly at the last element read, so the vector path must not overrun it.
                    ConvIm2Col.GatherStride2(s, d, lo, hi, 2 * (hi - 1));
                    for (int o = lo; o < hi; o++) Assert.Equal(src[2 * o], dst[o]);
                    Assert.True(lo == 0 || float.IsNaN(dst[lo - 1]));
                    Assert.True(float.IsNaN(dst[hi]));
                }
    }
}
