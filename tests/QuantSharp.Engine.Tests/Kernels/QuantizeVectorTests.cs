using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>The Vector512 and Vector256 paths of the quantization kernels equal the scalar reference bit for bit.</summary>
public class QuantizeVectorTests
{
    /// <summary>
    /// The vector widths this machine can run, and always the one the kernels pick here: on a machine (or a run with
    /// DOTNET_EnableAVX2=0) without AVX2 that is the scalar loop, which the tests then check against the reference.
    /// </summary>
    public static TheoryData<int> Widths()
    {
        var d = new TheoryData<int>();
        if (QuantizeRuns.Best == QuantSimd.Scalar) d.Add((int)QuantSimd.Scalar);
        if (Avx2.IsSupported) d.Add((int)QuantSimd.V256);
        if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated) d.Add((int)QuantSimd.V512);
        return d;
    }

    /// <summary>Values with many exact .5 ties at scale 0.25, clipped values, NaN and infinities.</summary>
    private static Tensor<float> Data(int n, int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var x = new Tensor<float>(shape.Length == 0 ? [n] : shape);
        for (int i = 0; i < x.Length; i++)
            x.Data[i] = (i % 5) switch
            {
                0 => rng.Next(-1200, 1200) / 8f,      // k/8: ties at scale 0.25 whenever k ≡ 1 (mod 2)
                1 => (float)(rng.NextDouble() * 80 - 40),
                2 => (rng.Next(-300, 300) + 0.5f) * 0.25f,
                3 => i % 37 == 3 ? float.NaN : i % 41 == 3 ? float.PositiveInfinity : i % 43 == 3 ? float.NegativeInfinity : (float)(rng.NextDouble() * 1e6 - 5e5),
                _ => (float)(rng.NextDouble() * 2 - 1),
            };
        return x;
    }

    private static void AllLengths(Action<int> check)
    {
        for (int n = 0; n <= 256; n++) check(n);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Quantize_AllTypes_VectorEqualsScalar_Lengths0To256(int width)
    {
        var simd = (QuantSimd)width;
        AllLengths(n =>
        {
            var x = Data(n, n);
            Same<sbyte>(x, QuantParams.PerTensor(0.25f, -3, -128, 127), simd);
            Same<sbyte>(x, QuantParams.PerTensor(0.25f, 0, -7, 7), simd);
            Same<byte>(x, QuantParams.PerTensor(0.25f, 17, 0, 255), simd);
            Same<byte>(x, QuantParams.PerTensor(0.3f, 2, 0, 15), simd);
            Same<short>(x, QuantParams.PerTensor(0.25f, 5, -32768, 32767), simd);
            Same<ushort>(x, QuantParams.PerTensor(0.25f, 300, 0, 65535), simd);
            Same<int>(x, QuantParams.PerTensor(0.07f, -2, -512, 511), simd);
        });
    }

    private static void Same<T>(Tensor<float> x, QuantParams p, QuantSimd simd) where T : unmanaged
    {
        var v = new Tensor<T>(x.Dims);
        var s = new Tensor<T>(x.Dims);
        QuantizeKernels.Quantize(x, p, v, simd);
        QuantizeKernels.Quantize(x, p, s, QuantSimd.Scalar);
        Assert.Equal(s.Data, v.Data);
        var r = new T[x.Length];
        QuantizeReference.Quantize<T>(x.Data, r, x.Dims, p);
        Assert.Equal(r, v.Data);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Dequantize_AllTypes_VectorEqualsScalar_Lengths0To256(int width)
    {
        var simd = (QuantSimd)width;
        AllLengths(n =>
        {
            var rng = new Random(n);
            Dq(Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray(), n), QuantParams.PerTensor(0.037f, -5, -128, 127), simd);
            Dq(Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (byte)rng.Next(0, 256)).ToArray(), n), QuantParams.PerTensor(0.1f, 128, 0, 255), simd);
            Dq(Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (short)rng.Next(-32768, 32768)).ToArray(), n), QuantParams.PerTensor(1e-3f, 7, -32768, 32767), simd);
            Dq(Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (ushort)rng.Next(0, 65536)).ToArray(), n), QuantParams.PerTensor(3e-4f, 30000, 0, 65535), simd);
            Dq(Tensor.FromArray(Enumerable.Range(0, n).Select(_ => rng.Next(-1 << 26, 1 << 26)).ToArray(), n), QuantParams.PerTensor(0.3f, 0, int.MinValue, int.MaxValue), simd);
        });
    }

    private static void Dq<T>(Tensor<T> q, QuantParams p, QuantSimd simd) where T : unmanaged
    {
        var v = QuantizeKernels.Dequantize(q, p, simd);
        var r = new float[q.Length];
        QuantizeReference.Dequantize<T>(q.Data, r, q.Dims, p);
        Assert.Equal(r, v.Data);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void FakeQuantizeAndMask_VectorEqualsScalar_Lengths0To256(int width)
    {
        var simd = (QuantSimd)width;
        AllLengths(n =>
        {
            var x = Data(n, 1000 + n);
            foreach (var p in new[] { QuantParams.PerTensor(0.25f, 3, -8, 7), QuantParams.PerTensor(0.013f, 100, 0, 255), QuantParams.PerTensor(0.5f, 0, -32768, 32767) })
            {
                var (yv, mv) = Fake(x, p, simd);
                var (ys, ms) = Fake(x, p, QuantSimd.Scalar);
                Assert.Equal(Bits(ys), Bits(yv));
                Assert.Equal(ms, mv);
                var yr = new float[n];
                var mr = new bool[n];
                QuantizeReference.FakeQuantize(x.Data, yr, mr, x.Dims, p);
                Assert.Equal(Bits(yr), Bits(yv));
                Assert.Equal(mr, mv);
            }
        });
    }

    private static (float[] Y, bool[] Mask) Fake(Tensor<float> x, QuantParams p, QuantSimd simd)
    {
        var y = new Tensor<float>(x.Dims);
        var m = new Tensor<bool>(x.Dims);
        QuantizeKernels.FakeQuantize(x, p, y, m, simd);
        return (y.Data, m.Data);
    }

    private static int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();

    [Theory]
    [MemberData(nameof(Widths))]
    public void StochasticRounding_VectorEqualsScalar_Lengths0To256(int width)
    {
        var simd = (QuantSimd)width;
        AllLengths(n =>
        {
            var x = Data(n, 2000 + n);
            var p = QuantParams.PerTensor(0.25f, 1, -128, 127) with { Rounding = QuantRounding.Stochastic, Seed = (uint)n * 7919u };
            Same<sbyte>(x, p, simd);
            var (yv, mv) = Fake(x, p, simd);
            var (ys, ms) = Fake(x, p, QuantSimd.Scalar);
            Assert.Equal(Bits(ys), Bits(yv));
            Assert.Equal(ms, mv);
        });
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void StraightThrough_VectorEqualsScalar_Lengths0To256(int width)
    {
        var simd = (QuantSimd)width;
        AllLengths(n =>
        {
            var x = Data(n, 3000 + n);
            var g = Tensor.RandomUniform(new Random(n), -1, 1, n);
            var p = QuantParams.PerTensor(0.25f, -2, -16, 15);
            var gv = QuantizeKernels.FakeQuantizeBackward(x, g, p, simd);
            var r = new float[n];
            QuantizeReference.FakeQuantizeBackward(x.Data, g.Data, r, x.Dims, p);
            Assert.Equal(Bits(r), Bits(gv.Data));
        });
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void PerAxis_OddShapes_VectorEqualsReference(int width)
    {
        var simd = (QuantSimd)width;
        foreach (var (shape, axis) in new[] { (new[] { 3, 5, 37 }, 1), (new[] { 3, 5, 37 }, 0), (new[] { 2, 19, 7 }, 2), (new[] { 1, 33 }, -1), (new[] { 5, 6, 3 }, 1), (new[] { 300, 20 }, 1) })
        {
            var x = Data(0, shape.Sum(), shape);
            int c = shape[axis < 0 ? axis + shape.Length : axis];
            var scale = Enumerable.Range(0, c).Select(i => 0.05f + 0.11f * i).ToArray();
            var zp = Enumerable.Range(0, c).Select(i => i % 9 - 4).ToArray();
            var p = QuantParams.PerAxis(scale, zp, axis, -127, 127);
            Same<sbyte>(x, p, simd);
            var (yv, mv) = Fake(x, p, simd);
            var yr = new float[x.Length];
            var mr = new bool[x.Length];
            QuantizeReference.FakeQuantize(x.Data, yr, mr, x.Dims, p);
            Assert.Equal(Bits(yr), Bits(yv));
            Assert.Equal(mr, mv);
            var q = QuantizeKernels.Quantize<sbyte>(x, p);
            var dr = new float[x.Length];
            QuantizeReference.Dequantize<sbyte>(q.Data, dr, q.Dims, p);
            Assert.Equal(Bits(dr), Bits(QuantizeKernels.Dequantize(q, p, simd).Data));
            var g = Tensor.RandomUniform(new Random(x.Length), -1, 1, shape);
            var gr = new float[x.Length];
            QuantizeReference.FakeQuantizeBackward(x.Data, g.Data, gr, x.Dims, p);
            Assert.Equal(Bits(gr), Bits(QuantizeKernels.FakeQuantizeBackward(x, g, p, simd).Data));
            var ps = p with { Rounding = QuantRounding.Stochastic, Seed = 99 };
            Same<sbyte>(x, ps, simd);
            var (yst, mst) = Fake(x, ps, simd);
            var ysr = new float[x.Length];
            var msr = new bool[x.Length];
            QuantizeReference.FakeQuantize(x.Data, ysr, msr, x.Dims, ps);
            Assert.Equal(Bits(ysr), Bits(yst));
            Assert.Equal(msr, mst);
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Requantize_VectorEqualsScalar_Lengths0To256(int width)
    {
        var simd = (QuantSimd)width;
        AllLengths(n =>
        {
            var rng = new Random(4000 + n);
            // Accumulators at odd multiples of 2 with multiplier 0.25 land on exact .5 ties; the rest are arbitrary.
            var acc = Tensor.FromArray(Enumerable.Range(0, n).Select(i => i % 3 == 0 ? 2 * rng.Next(-600, 600) + 2 : rng.Next(-100000, 100000)).ToArray(), n);
            foreach (float m in new[] { 0.25f, 0.0123f })
            {
                var v = QuantizeInteger.Requantize<byte>(acc, [m], 0, 128, 0, 255, simd);
                var s = QuantizeInteger.Requantize<byte>(acc, [m], 0, 128, 0, 255, QuantSimd.Scalar);
                Assert.Equal(s.Data, v.Data);
                Assert.Equal(acc.Data.Select(a => (byte)QuantizeReference.RequantizeLevel(a, m, 128, 0, 255)).ToArray(), v.Data);
                var v8 = QuantizeInteger.Requantize<sbyte>(acc, [m], 0, -3, -128, 127, simd);
                Assert.Equal(acc.Data.Select(a => (sbyte)QuantizeReference.RequantizeLevel(a, m, -3, -128, 127)).ToArray(), v8.Data);
            }
        });
    }

    /// <summary>Parameter-gradient sums: vector lanes accumulate in float (flushed to double), the scalar loop in double.</summary>
    private const double SumTolerance = 1e-5;

    private static void Near(float[] expected, float[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= SumTolerance * (1 + Math.Abs(expected[i])), $"sum {i}: {actual[i]} vs scalar {expected[i]}");
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void LsqAndRangeLearningBackward_VectorMatchesScalar_Lengths0To256(int width)
    {
        var simd = (QuantSimd)width;
        AllLengths(n =>
        {
            var x = Data(n, 5000 + n);
            for (int i = 0; i < n; i++) if (!float.IsFinite(x.Data[i]) || Math.Abs(x.Data[i]) > 1e4f) x.Data[i] = 0.7f * i;
            var g = Tensor.RandomUniform(new Random(n), -1, 1, n);
            var (gxv, gsv, gzv) = QuantizeGradients.LsqCore(x, g, [0.25f], [2.4f], -16, 15, null, 1f, simd);
            var (gxs, gss, gzs) = QuantizeGradients.LsqCore(x, g, [0.25f], [2.4f], -16, 15, null, 1f, QuantSimd.Scalar);
            Assert.Equal(Bits(gxs.Data), Bits(gxv.Data));
            Near(gss, gsv);
            Near(gzs, gzv);
            var (rxv, rminv, rmaxv) = QuantizeGradients.RangeLearningCore(x, g, [-3.3f], [9.1f], 4, null, simd);
            var (rxs, rmins, rmaxs) = QuantizeGradients.RangeLearningCore(x, g, [-3.3f], [9.1f], 4, null, QuantSimd.Scalar);
            Assert.Equal(Bits(rxs.Data), Bits(rxv.Data));
            Near(rmins, rminv);
            Near(rmaxs, rmaxv);
        });
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void LsqBackward_PerAxisLongRuns_VectorMatchesScalar(int width)
    {
        var simd = (QuantSimd)width;
        var x = Tensor.RandomUniform(new Random(7), -3, 3, 3, 9000);
        var g = Tensor.RandomUniform(new Random(8), -1, 1, 3, 9000);
        float[] scale = [0.01f, 0.05f, 0.2f], zp = [0f, 3f, -7f];
        var (gxv, gsv, gzv) = QuantizeGradients.LsqCore(x, g, scale, zp, -128, 127, 0, 0.5f, simd);
        var (gxs, gss, gzs) = QuantizeGradients.LsqCore(x, g, scale, zp, -128, 127, 0, 0.5f, QuantSimd.Scalar);
        Assert.Equal(Bits(gxs.Data), Bits(gxv.Data));
        Near(gss, gsv);
        Near(gzs, gzv);
    }

    [Fact]
    public void LargeTensor_MultiCoreBlocks_EqualSingleRunReference()
    {
        // Large enough for several parallel blocks; stochastic draws use the global element index, so blocks agree.
        var x = Data(0, 9, 3, 70001);
        var p = QuantParams.PerAxis([0.25f, 0.5f, 0.125f], [1, 0, -1], 0, -128, 127) with { Rounding = QuantRounding.Stochastic, Seed = 5 };
        var q = QuantizeKernels.Quantize<sbyte>(x, p);
        var r = new sbyte[x.Length];
        QuantizeReference.Quantize<sbyte>(x.Data, r, x.Dims, p);
        Assert.Equal(r, q.Data);
        // Per-axis on the last axis (the repeating-pattern path) across blocks.
        var xt = Data(0, 10, 70001, 3);
        var pt = QuantParams.PerAxis([0.25f, 0.5f, 0.125f], [1, 0, -1], 1, -128, 127) with { Rounding = QuantRounding.Stochastic, Seed = 6 };
        var rt = new sbyte[xt.Length];
        QuantizeReference.Quantize<sbyte>(xt.Data, rt, xt.Dims, pt);
        Assert.Equal(rt, QuantizeKernels.Quantize<sbyte>(xt, pt).Data);
    }
}
