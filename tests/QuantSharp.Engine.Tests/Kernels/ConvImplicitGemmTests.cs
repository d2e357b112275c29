using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

public unsafe class ConvImplicitGemmTests
{
    /// <summary>
    /// Float tolerance against the double-accumulating reference, relative to the largest reference magnitude:
    /// float sums of at most a few thousand N(0,1) products are off by ~1e-6 of that; an indexing error by O(1).
    /// </summary>
    private const double Tolerance = 1e-4;

    public sealed record Case(int[] X, int[] W, ConvParams P);

    private static ConvParams Params(int[] strides, int[] padsBegin, int[] padsEnd, int[] dilations) =>
        new(strides, padsBegin, padsEnd, dilations);

    public static readonly Dictionary<string, Case> Cases = new()
    {
        ["k3_pad1_odd"] = new([1, 5, 9, 11], [7, 5, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["k3_pad1_wide_rows_cross"] = new([3, 7, 6, 70], [13, 7, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["k3_nopad_w50"] = new([1, 4, 5, 50], [6, 4, 3, 3], ConvParams.Uniform(2)),
        ["k3_stride2_asym_pads"] = new([3, 6, 13, 10], [10, 6, 3, 3], Params([2, 2], [1, 0], [2, 1], [1, 1])),
        ["k3_stride2_w70"] = new([1, 3, 11, 70], [9, 3, 3, 3], ConvParams.Uniform(2, stride: 2, pad: 1)),
        ["dilation2_pad2"] = new([1, 4, 15, 17], [9, 4, 3, 3], ConvParams.Uniform(2, pad: 2, dilation: 2)),
        ["dilation2_stride2_asym"] = new([1, 3, 9, 80], [6, 3, 3, 3], Params([2, 2], [2, 1], [3, 0], [2, 2])),
        ["k1x1"] = new([3, 13, 7, 9], [17, 13, 1, 1], ConvParams.Uniform(2)),
        ["k1x1_stride2"] = new([2, 13, 9, 35], [5, 13, 1, 1], ConvParams.Uniform(2, stride: 2)),
        ["k5_pad2_w40"] = new([1, 3, 20, 40], [11, 3, 5, 5], ConvParams.Uniform(2, pad: 2)),
        ["k2_stride2_even"] = new([1, 5, 16, 16], [8, 5, 2, 2], ConvParams.Uniform(2, stride: 2)),
        ["k3_stride3"] = new([1, 3, 17, 19], [4, 3, 3, 3], ConvParams.Uniform(2, stride: 3, pad: 1)),
        ["stride2x1_kernel3x2"] = new([2, 3, 12, 37], [5, 3, 3, 2], Params([2, 1], [0, 1], [1, 0], [1, 1])),
        ["pad_above_kernel_stride1"] = new([1, 2, 6, 7], [3, 2, 3, 3], ConvParams.Uniform(2, pad: 3)),
        ["channels33_m40_w40"] = new([1, 33, 5, 40], [40, 33, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["deep_two_row_blocks_m192"] = new([1, 111, 3, 36], [192, 111, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["deep_k4680_general_gemm"] = new([1, 520, 2, 33], [72, 520, 3, 3], ConvParams.Uniform(2, pad: 1)),
        ["narrow_w7_batch3"] = new([3, 9, 7, 7], [12, 9, 3, 3], ConvParams.Uniform(2, pad: 1)),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    private static Tensor<float> Rand(int seed, params int[] shape) => Tensor.RandomNormal(new Random(seed), 0, 1, shape);

    private static void AssertClose(Tensor<float> expected, Tensor<float> actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double scale = 0;
        foreach (float v in expected.Data) scale = Math.Max(scale, Math.Abs(v));
        double tol = Tolerance * Math.Max(scale, 1e-3);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= tol,
                $"{what}: element {i} = {actual.Data[i]}, reference {expected.Data[i]} (tolerance {tol:G3})");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ForwardAndGradients_MatchReference(string name)
    {
        var c = Cases[name];
        Assert.True(ConvImplicitGemm.Supports(c.P, c.W));
        var x = Rand(1, c.X);
        var w = Rand(2, c.W);
        var b = Rand(3, c.W[0]);
        var y = ConvImplicitGemm.Forward(x, w, b, c.P);
        AssertClose(ConvReference.Forward(x, w, b, c.P), y, name + " forward");
        AssertClose(ConvReference.Forward(x, w, null, c.P), ConvImplicitGemm.Forward(x, w, null, c.P), name + " forward without bias");
        var gy = Rand(4, y.Shape);
        AssertClose(ConvReference.BackwardData(gy, w, c.X, c.P), ConvImplicitGemm.BackwardData(gy, w, c.X, c.P), name + " backward-data");
        AssertClose(ConvReference.BackwardWeight(x, gy, c.W, c.P), ConvImplicitGemm.BackwardWeight(x, gy, c.W, c.P), name + " backward-weight");
    }

    [Theory]
    [InlineData("k3_stride2_asym_pads")]
    [InlineData("dilation2_stride2_asym")]
    [InlineData("k3_stride3")]
    [InlineData("stride2x1_kernel3x2")]
    [InlineData("k1x1_stride2")]
    public void BackwardData_StridedThroughColumns_MatchesReference(string name)
    {
        // The GEMM + col2im path (used when phase weights are too large for the panel loop) on the strided cases.
        var c = Cases[name];
        var w = Rand(2, c.W);
        var gy = Rand(4, c.P.OutputShape(c.X, c.W));
        Tensor<float> gx;
        try
        {
            ConvImplicitGemm.ForceColumns = true;
            gx = ConvImplicitGemm.BackwardData(gy, w, c.X, c.P);
        }
        finally
        {
            ConvImplicitGemm.ForceColumns = false;
        }
        AssertClose(ConvReference.BackwardData(gy, w, c.X, c.P), gx, name + " backward-data by columns");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ForwardAndGradients_MatchReferenceForAnyCorePartition(int threads)
    {
        // Batch 5: images spread over cores plus a remainder with a parallel GEMM (or all on one core).
        var c = new Case([5, 6, 9, 40], [10, 6, 3, 3], ConvParams.Uniform(2, pad: 1));
        var x = Rand(5, c.X);
        var w = Rand(6, c.W);
        var gy = Rand(7, 5, 10, 9, 40);
        Tensor<float> y, gx, gw;
        try
        {
            // Partition as if there were that many cores (Work.Threads is global: other tests run concurrently).
            ConvImplicitGemm.CoresOverride = threads;
            y = ConvImplicitGemm.Forward(x, w, null, c.P);
            gx = ConvImplicitGemm.BackwardData(gy, w, c.X, c.P);
            gw = ConvImplicitGemm.BackwardWeight(x, gy, c.W, c.P);
        }
        finally
        {
            ConvImplicitGemm.CoresOverride = 0;
        }
        AssertClose(ConvReference.Forward(x, w, null, c.P), y, "forward");
        AssertClose(ConvReference.BackwardData(gy, w, c.X, c.P), gx, "backward-data");
        AssertClose(ConvReference.BackwardWeight(x, gy, c.W, c.P), gw, "backward-weight");
    }

    [Fact]
    public void Destination_IsOverwrittenAndReturned()
    {
        var p = ConvParams.Uniform(2, stride: 2, pad: 1);
        var x = Rand(8, 2, 3, 9, 9);
        var w = Rand(9, 4, 3, 3, 3);
        var gy = Rand(10, 2, 4, 5, 5);
        var y = Tensor.Full(float.NaN, 2, 4, 5, 5);
        var gx = Tensor.Full(float.NaN, 2, 3, 9, 9);
        var gw = Tensor.Full(float.NaN, 4, 3, 3, 3);
        Assert.Same(y, ConvImplicitGemm.Forward(x, w, null, p, y));
        Assert.Same(gx, ConvImplicitGemm.BackwardData(gy, w, x.Dims, p, gx));
        Assert.Same(gw, ConvImplicitGemm.BackwardWeight(x, gy, w.Dims, p, gw));
        AssertClose(ConvReference.Forward(x, w, null, p), y, "forward into destination");
        AssertClose(ConvReference.BackwardData(gy, w, x.Dims, p), gx, "backward-data into destination");
        AssertClose(ConvReference.BackwardWeight(x, gy, w.Dims, p), gw, "backward-weight into destination");
    }

    [Fact]
    public void EmptyDimensions_NoChannelsOrImages_MatchReference()
    {
        var p = ConvParams.Uniform(2, pad: 1);
        var x = Rand(13, 2, 0, 5, 6);
        var w = Rand(14, 3, 0, 3, 3);
        var b = Rand(15, 3);
        AssertClose(ConvReference.Forward(x, w, b, p), ConvImplicitGemm.Forward(x, w, b, p), "no input channels: output is the bias");
        var gy = Rand(16, 2, 3, 5, 6);
        Assert.Equal(x.Shape, ConvImplicitGemm.BackwardData(gy, w, x.Dims, p).Shape);
        Assert.Equal(w.Shape, ConvImplicitGemm.BackwardWeight(x, gy, w.Dims, p).Shape);
        var x0 = Rand(17, 0, 4, 5, 6);
        var w0 = Rand(18, 3, 4, 3, 3);
        var gy0 = new Tensor<float>(0, 3, 5, 6);
        Assert.Equal([0, 3, 5, 6], ConvImplicitGemm.Forward(x0, w0, null, p).Shape);
        Assert.Equal([0, 4, 5, 6], ConvImplicitGemm.BackwardData(gy0, w0, x0.Dims, p).Shape);
        Assert.All(ConvImplicitGemm.BackwardWeight(x0, gy0, w0.Dims, p).Data, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Supports_TwoSpatialAxesAndOneGroupOnly()
    {
        Assert.True(ConvImplicitGemm.Supports(ConvParams.Uniform(2, stride: 2, pad: 1, dilation: 2), [8, 4, 3, 3]));
        Assert.False(ConvImplicitGemm.Supports(ConvParams.Uniform(2, pad: 1, groups: 2), [8, 2, 3, 3]));
        Assert.False(ConvImplicitGemm.Supports(ConvParams.Uniform(1, pad: 1), [8, 4, 3]));
        Assert.False(ConvImplicitGemm.Supports(ConvParams.Uniform(3, pad: 1), [8, 4, 3, 3, 3]));
    }

    /// <summary>Layouts that exercise every packer path: stride-1 single and double runs, gathers, partial panels.</summary>
    public static TheoryData<string> PackerCaseNames() => new(["k3_pad1_odd", "k3_pad1_wide_rows_cross", "k3_stride2_asym_pads",
        "dilation2_stride2_asym", "k5_pad2_w40", "narrow_w7_batch3", "channels33_m40_w40", "stride2x1_kernel3x2"]);

    private static ConvImplicitGemmLayout Layout(Case c)
    {
        var g = ConvGeometry.ForConv("test", c.X, c.W, c.P);
        return new ConvImplicitGemmLayout(g, c.P.PadsEnd[0], c.P.PadsEnd[1]);
    }

    [Theory]
    [MemberData(nameof(PackerCaseNames))]
    public void Packers_VectorAndPortablePaths_MatchScalarReferenceBitExact(string name)
    {
        var c = Cases[name];
        var L = Layout(c);
        var x = Rand(11, c.X[1..]);
        var pad = new float[L.BufferFloats];
        // Row/column windows: whole, unaligned starts (split-k slices), odd lengths, one partial panel.
        var windows = new (int K0, int Kc, int N0, int Nc)[]
        {
            (0, L.K, 0, L.P), (1, Math.Min(L.K - 1, 7), 32, Math.Min(L.P - 32, 45)), (L.K / 2, L.K - L.K / 2, L.P / 64 * 32, L.P - L.P / 64 * 32),
        };
        var weightWindows = new (int K0, int Kc, int N0, int Nc)[]
        {
            (0, L.P, 0, L.K), (3, Math.Min(L.P - 3, 61), 0, Math.Min(L.K, 33)), (L.P / 3, L.P - L.P / 3, L.K / 64 * 32, L.K - L.K / 64 * 32),
        };
        fixed (float* px = x.Data, pp = pad)
        {
            L.Pad(px, pp);
            foreach (var (k0, kc, n0, nc) in windows)
            {
                if (kc <= 0 || nc <= 0) continue;
                int size = kc * ((nc + Gemm.NR - 1) / Gemm.NR * Gemm.NR);
                var want = new float[size];
                var fast = new float[size];
                var portable = new float[size];
                fixed (float* pw = want, pf = fast, pq = portable)
                {
                    ConvImplicitGemmReference.PackForward(L, px, k0, kc, n0, nc, pw);
                    new ConvImplicitGemmPacker(L, pp).Pack(k0, kc, n0, nc, pf);
                    new ConvImplicitGemmPacker(L, pp, portable: true).Pack(k0, kc, n0, nc, pq);
                }
                Assert.True(want.AsSpan().SequenceEqual(fast), $"{name}: forward packer (vector) window {k0}+{kc} x {n0}+{nc}");
                Assert.True(want.AsSpan().SequenceEqual(portable), $"{name}: forward packer (portable) window {k0}+{kc} x {n0}+{nc}");
            }
            foreach (var (k0, kc, n0, nc) in weightWindows)
            {
                if (kc <= 0 || nc <= 0) continue;
                int size = kc * ((nc + Gemm.NR - 1) / Gemm.NR * Gemm.NR);
                var want = new float[size];
                var fast = new float[size];
                var portable = new float[size];
                fixed (float* pw = want, pf = fast, pq = portable)
                {
                    ConvImplicitGemmReference.PackWeight(L, px, k0, kc, n0, nc, pw);
                    new ConvImplicitGemmWeightPacker(L, pp).Pack(k0, kc, n0, nc, pf);
                    new ConvImplicitGemmWeightPacker(L, pp, portable: true).Pack(k0, kc, n0, nc, pq);
                }
                Assert.True(want.AsSpan().SequenceEqual(fast), $"{name}: weight packer (vector) window {k0}+{kc} x {n0}+{nc}");
                Assert.True(want.AsSpan().SequenceEqual(portable), $"{name}: weight packer (portable) window {k0}+{kc} x {n0}+{nc}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Col2Im_VectorAndPortable_MatchScalarReferenceBitExact_ForWidths1To70(int stride)
    {
        for (int width = 1; width <= 70; width++)
        {
            var c = new Case([1, 2, 5, width], [1, 2, 3, Math.Min(3, width + 1)], new ConvParams([stride, stride], [1, 1], [0, 1], [1, 1]));
            var L = Layout(c);
            var col = Rand(12 + width, L.K * L.P);
            int[] rowBlocks = [0, Math.Max(1, L.OH / 2)];
            foreach (int oh0 in rowBlocks)
            {
                if (oh0 >= L.OH) continue;
                int rows = L.OH - oh0;
                var want = new float[L.C * L.H * L.W];
                var fast = new float[want.Length];
                var portable = new float[want.Length];
                var pad = new float[L.BufferFloats];
                fixed (float* pc = col.Data, pw = want, pf = fast, pq = portable, pp = pad)
                {
                    float* block = pc + oh0 * L.OW;
                    ConvImplicitGemmReference.Col2Im(L, block, L.P, oh0, rows, pw);
                    ConvImplicitGemmCol2Im.Col2Im(L, block, L.P, oh0, rows, pp);
                    ConvImplicitGemmCol2Im.Crop(L, pp, pf);
                    Array.Clear(pad);
                    ConvImplicitGemmCol2Im.Col2Im(L, block, L.P, oh0, rows, pp, portable: true);
                    ConvImplicitGemmCol2Im.Crop(L, pp, pq);
                }
                Assert.True(want.AsSpan().SequenceEqual(fast), $"col2im (vector) stride {stride} width {width} rows from {oh0}");
                Assert.True(want.AsSpan().SequenceEqual(portable), $"col2im (portable) stride {stride} width {width} rows from {oh0}");
            }
        }
    }

    [Fact]
    public void Forward_GroupedConvolution_ThrowsNamingGroups()
    {
        var ex = Assert.Throws<ShapeException>(() =>
            ConvImplicitGemm.Forward(Rand(1, 1, 4, 5, 5), Rand(2, 4, 2, 3, 3), null, ConvParams.Uniform(2, groups: 2)));
        Assert.Contains("ConvImplicitGemm.Forward", ex.Message);
        Assert.Contains("'groups'", ex.Message);
    }

    [Fact]
    public void Forward_WeightOfWrongRank_ThrowsNamingWeight()
    {
        var ex = Assert.Throws<ShapeException>(() =>
            ConvImplicitGemm.Forward(Rand(1, 1, 4, 5, 5), Rand(2, 4, 4, 3), null, ConvParams.Uniform(2)));
        Assert.Contains("'weight' expected rank 4", ex.Message);
    }

    [Fact]
    public void Forward_OneSpatialAxis_ThrowsNamingInput()
    {
        var ex = Assert.Throws<ShapeException>(() =>
            ConvImplicitGemm.Forward(Rand(1, 1, 4, 5), Rand(2, 4, 4, 3), null, ConvParams.Uniform(1)));
        Assert.Contains("ConvImplicitGemm.Forward: argument 'input' expected rank 4", ex.Message);
    }

    [Fact]
    public void Forward_ChannelMismatch_ThrowsNamingWeight()
    {
        var ex = Assert.Throws<ShapeException>(() =>
            ConvImplicitGemm.Forward(Rand(1, 1, 4, 5, 5), Rand(2, 6, 3, 3, 3), null, ConvParams.Uniform(2)));
        Assert.Contains("'weight'", ex.Message);
        Assert.Contains("[6,3,3,3]", ex.Message.Replace(" ", ""));
    }

    [Fact]
    public void Forward_KernelLargerThanPaddedInput_ThrowsNamingWeight()
    {
        var ex = Assert.Throws<ShapeException>(() =>
            ConvImplicitGemm.Forward(Rand(1, 1, 2, 3, 3), Rand(2, 2, 2, 5, 5), null, ConvParams.Uniform(2)));
        Assert.Contains("'weight'", ex.Message);
    }

    [Fact]
    public void Forward_BiasOfWrongLength_ThrowsNamingBias()
    {
        var ex = Assert.Throws<ShapeException>(() =>
            ConvImplicitGemm.Forward(Rand(1, 1, 2, 5, 5), Rand(2, 4, 2, 3, 3), Rand(3, 5), ConvParams.Uniform(2)));
        Assert.Contains("'bias' expected shape [4]", ex.Message);
    }

    [Fact]
    public void Forward_DestinationOfWrongShape_ThrowsNamingDestination()
    {
        var ex = Assert.Throws<ShapeException>(() =>
            ConvImplicitGemm.Forward(Rand(1, 1, 2, 5, 5), Rand(2, 4, 2, 3, 3), null, ConvParams.Uniform(2), new Tensor<float>(1, 4, 5, 5)));
        Assert.Contains("'destination'", ex.Message);
    }

    [Fact]
    public void Backward_GradOutputOfWrongShape_ThrowsNamingGradOutput()
    {
        var p = ConvParams.Uniform(2, pad: 1);
        var x = Rand(1, 1, 2, 5, 5);
        var w = Rand(2, 4, 2, 3, 3);
        var bad = Rand(3, 1, 4, 4, 5);
        var exData = Assert.Throws<ShapeException>(() => ConvImplicitGemm.BackwardData(bad, w, x.Dims, p));
        Assert.Contains("ConvImplicitGemm.BackwardData: argument 'gradOutput'", exData.Message);
        var exWeight = Assert.Throws<ShapeException>(() => ConvImplicitGemm.BackwardWeight(x, bad, w.Dims, p));
        Assert.Contains("ConvImplicitGemm.BackwardWeight: argument 'gradOutput'", exWeight.Message);
    }
}
