using System.Runtime.Intrinsics;
using QuantSharp.Engine.Kernels;
using QuantSharp.Engine.Kernels.Operators;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>Shared checks: every vector width of the driver against the scalar Invoke, with a named tolerance.</summary>
internal static unsafe class ElementwiseTestSupport
{
    public static IEnumerable<int> Widths()
    {
        if (Vector512.IsHardwareAccelerated) yield return 512;
        if (Vector256.IsHardwareAccelerated) yield return 256;
        yield return 0;
    }

    /// <summary>Random values in [lo, hi] with IEEE specials (±0, ±∞, NaN, tiny) sprinkled in when <paramref name="specials"/>.</summary>
    public static float[] Data(Random rng, int n, float lo, float hi, bool specials)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng.NextSingle();
        if (specials)
        {
            float[] sp = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e-30f, -1e-30f, 1f, -1f];
            for (int i = 0; i < n; i += 7) x[i] = sp[rng.Next(sp.Length)];
        }
        return x;
    }

    /// <summary>True when v is within ulps·ulp(s) + abs of s (NaN matches NaN, infinities must be equal).</summary>
    public static bool Close(float v, float s, double ulps, double abs)
    {
        if (float.IsNaN(s) || float.IsNaN(v)) return float.IsNaN(s) && float.IsNaN(v);
        if (ulps == 0 && abs == 0) return BitConverter.SingleToInt32Bits(v) == BitConverter.SingleToInt32Bits(s);
        if (float.IsInfinity(s) || float.IsInfinity(v)) return v == s;
        double ulp = MathF.BitIncrement(MathF.Abs(s)) - MathF.Abs(s);
        return Math.Abs((double)v - s) <= ulps * ulp + abs;
    }

    private static double Slack(double abs, double perMagnitude, float x) =>
        perMagnitude == 0 || !float.IsFinite(x) ? abs : abs + perMagnitude * Math.Abs(x);

    public static void UnaryMatchesScalar<TOp>(TOp op, double ulps, double abs, float lo = -8f, float hi = 8f, bool specials = true, double absPerMagnitude = 0)
        where TOp : struct, IUnaryOperator
    {
        var rng = new Random(17);
        foreach (int w in Widths())
            for (int n = 0; n <= 256; n++)
            {
                var x = Data(rng, n, lo, hi, specials);
                var y = new float[n];
                fixed (float* px = x, py = y) ElementwiseDriver.UnaryBlock(op, px, py, n, w);
                for (int i = 0; i < n; i++)
                {
                    float s = op.Invoke(x[i]);
                    Assert.True(Close(y[i], s, ulps, Slack(abs, absPerMagnitude, x[i])),
                        $"{typeof(TOp).Name} width {w} n {n} i {i}: x={x[i]:R} vector {y[i]:R} scalar {s:R}");
                }
            }
        // One length above the parallel threshold through the public path.
        var big = Tensor.FromArray(Data(rng, ElementwiseDriver.ParallelThreshold + 1001, lo, hi, specials), ElementwiseDriver.ParallelThreshold + 1001);
        var got = Elementwise.Apply(op, big);
        var want = ElementwiseReference.Unary(op, big);
        for (int i = 0; i < big.Length; i++)
            if (!(Close(got.Data[i], want.Data[i], ulps, Slack(abs, absPerMagnitude, big.Data[i])))) Assert.Fail($"{typeof(TOp).Name} parallel i {i}");
    }

    public static void BinaryMatchesScalar<TOp>(TOp op, double ulps, double abs, float lo = -8f, float hi = 8f, bool specials = true,
        float loB = float.NaN, float hiB = float.NaN) where TOp : struct, IBinaryOperator
    {
        var rng = new Random(23);
        if (float.IsNaN(loB)) { loB = lo; hiB = hi; }
        foreach (int w in Widths())
            for (int n = 0; n <= 256; n++)
            {
                var a = Data(rng, n, lo, hi, specials);
                var b = Data(rng, n, loB, hiB, specials);
                var o = new float[n];
                float sb = n > 0 ? b[0] : 1f, sa = n > 0 ? a[n - 1] : 1f;
                fixed (float* pa = a, pb = b, po = o)
                {
                    ElementwiseDriver.BinaryVV(op, pa, pb, po, n, w);
                    for (int i = 0; i < n; i++) Check(op.Invoke(a[i], b[i]), o[i], "VV", i);
                    ElementwiseDriver.BinaryVS(op, pa, sb, po, n, w);
                    for (int i = 0; i < n; i++) Check(op.Invoke(a[i], sb), o[i], "VS", i);
                    ElementwiseDriver.BinarySV(op, sa, pb, po, n, w);
                    for (int i = 0; i < n; i++) Check(op.Invoke(sa, b[i]), o[i], "SV", i);
                }
                void Check(float s, float v, string kind, int i)
                {
                    if (!Close(v, s, ulps, abs)) Assert.Fail($"{typeof(TOp).Name} {kind} width {w} n {n} i {i}: a={a[i]:R} b={b[i]:R} vector {v:R} scalar {s:R}");
                }
            }
        int big = ElementwiseDriver.ParallelThreshold + 333;
        var ta = Tensor.FromArray(Data(rng, big, lo, hi, specials), big);
        var tb = Tensor.FromArray(Data(rng, big, loB, hiB, specials), big);
        var got = Elementwise.Apply(op, ta, tb);
        var want = ElementwiseReference.Binary(op, ta, tb);
        for (int i = 0; i < big; i++) if (!Close(got.Data[i], want.Data[i], ulps, abs)) Assert.Fail($"{typeof(TOp).Name} parallel i {i}");
    }
}
