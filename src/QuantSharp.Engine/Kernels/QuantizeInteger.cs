using System.Runtime.CompilerServices;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Integer matrix products and convolutions (ONNX <c>MatMulInteger</c>, <c>ConvInteger</c>, and the accumulators of
/// <c>QLinearMatMul</c>/<c>QLinearConv</c>) computed exactly on the float GEMM/convolution kernels, and requantization.
/// </summary>
/// <remarks>
/// <para>The zero-point-centred integers <c>x − zx</c>, <c>w − zw</c> are exactly representable floats, and so is every
/// partial sum of their products while it stays below 2^24 in magnitude. The kernels bound it from the data
/// (K·max|x − zx|·max|w − zw| ≤ 2^24) and, when the bound is exceeded, split the reduction (K for matrix products,
/// input channels — per group — for convolution) into slices that each satisfy it, convert each slice's float
/// result to int32 and add: the result is the exact int32 accumulator for any size (8-bit operands give slices of
/// ≥ 258 products; int32 overflow itself wraps as in C).</para>
/// </remarks>
public static class QuantizeInteger
{
    private const double ExactLimit = 1 << 24;

    /// <summary>
    /// Integer tensor minus its zero point, as float: per tensor (<paramref name="zeroPoint"/> of length 1) or with one
    /// zero point per slice along <paramref name="axis"/>. Returns the largest magnitude too.
    /// </summary>
    /// <exception cref="ShapeException">Not an 8/16/32-bit integer tensor, or zero points not matching the axis.</exception>
    public static (Tensor<float> Centered, float MaxAbs) Center(string op, string arg, Tensor t, int[] zeroPoint, int axis)
    {
        int channels = 1, inner = t.Length;
        if (zeroPoint.Length != 1)
        {
            int ax = Check.Axis(op, $"{arg} zero point axis", axis, t.Rank);
            Check.That(t.Rank > 0 && zeroPoint.Length == t.Dims[ax], op, $"{arg}_zero_point",
                $"1 or {(t.Rank > 0 ? t.Dims[ax] : 1)} values (dimension {ax} of {Shapes.Format(t.Dims)})", $"{zeroPoint.Length}");
            channels = t.Dims[ax];
            inner = 1;
            for (int i = ax + 1; i < t.Rank; i++) inner *= t.Dims[i];
        }
        var o = Tensor<float>.Uninitialized(t.Dims);
        float max = t switch
        {
            Tensor<sbyte> s => Fill(s.Data, o.Data, zeroPoint, channels, inner),
            Tensor<byte> s => Fill(s.Data, o.Data, zeroPoint, channels, inner),
            Tensor<short> s => Fill(s.Data, o.Data, zeroPoint, channels, inner),
            Tensor<ushort> s => Fill(s.Data, o.Data, zeroPoint, channels, inner),
            Tensor<int> s => Fill(s.Data, o.Data, zeroPoint, channels, inner),
            _ => throw new ShapeException($"{op}: argument '{arg}' expected an int8, uint8, int16, uint16 or int32 tensor, got {t.DataType}"),
        };
        return (o, max);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Fill<T>(T[] src, float[] dst, int[] zeroPoint, int channels, int inner) where T : unmanaged
    {
        long max = 0;
        for (int i = 0; i < src.Length; i++)
        {
            long v = (long)QuantizeReference.ToInt(src[i]) - zeroPoint[channels == 1 ? 0 : i / inner % channels];
            dst[i] = v;
            long a = Math.Abs(v);
            if (a > max) max = a;
        }
        return max;
    }

    /// <summary>
    /// ONNX MatMulInteger: <c>Y = (A − za)·(B − zb)</c> as int32, numpy MatMul shapes and broadcasting; za per tensor or
    /// per row of A (its second-to-last axis), zb per tensor or per column of B (its last axis).
    /// </summary>
    /// <exception cref="ShapeException">Non-integer operands, mismatched inner dimensions, or zero points of the wrong length.</exception>
    public static Tensor<int> MatMul(Tensor a, Tensor b, int[] aZeroPoint, int[] bZeroPoint)
    {
        const string op = "MatMulInteger";
        var (af, amax) = Center(op, "A", a, aZeroPoint, a.Rank - 2);
        var (bf, bmax) = Center(op, "B", b, bZeroPoint, b.Rank - 1);
        Check.That(a.Rank >= 1 && b.Rank >= 1, op, "A/B", "tensors of rank >= 1", $"{Shapes.Format(a.Dims)} and {Shapes.Format(b.Dims)}");
        int k = a.Dims[^1];
        int slice = SliceLength(k, (double)amax * bmax);
        if (slice >= k) return ToInt(Kernels.MatMul.Forward(af, bf));
        Tensor<int>? acc = null;
        int bAxis = b.Rank == 1 ? 0 : b.Rank - 2;
        for (int k0 = 0; k0 < k; k0 += slice)
        {
            int len = Math.Min(slice, k - k0);
            var part = Kernels.MatMul.Forward(Slice(af, a.Rank - 1, k0, len), Slice(bf, bAxis, k0, len));
            acc = Accumulate(acc, part);
        }
        return acc!;
    }

    /// <summary>
    /// ONNX ConvInteger: <c>Y = conv(X − zx, W − zw)</c> as int32 (padding contributes 0 after centring, i.e. pads hold zx);
    /// zx per tensor, zw per tensor or per output channel.
    /// </summary>
    /// <exception cref="ShapeException">Non-integer operands, zero points of the wrong length, or shapes the convolution rejects.</exception>
    public static Tensor<int> Conv(Tensor x, Tensor w, int xZeroPoint, int[] wZeroPoint, ConvParams p)
    {
        const string op = "ConvInteger";
        var (xf, xmax) = Center(op, "x", x, [xZeroPoint], 0);
        var (wf, wmax) = Center(op, "w", w, wZeroPoint, 0);
        Check.That(w.Rank >= 3, op, "w", "rank >= 3", Shapes.Format(w.Dims));
        int kernelVolume = 1;
        for (int i = 2; i < w.Rank; i++) kernelVolume *= w.Dims[i];
        int cg = w.Dims[1];
        int sliceChannels = SliceLength(cg, (double)xmax * wmax * kernelVolume);
        if (sliceChannels >= cg) return ToInt(Kernels.Conv.Forward(xf, wf, null, p));

        // Split the reduction: per group, input-channel slices small enough to be exact, each a group-1 convolution.
        var single = new ConvParams(p.Strides.ToArray(), p.PadsBegin.ToArray(), p.PadsEnd.ToArray(), p.Dilations.ToArray(), 1);
        int groups = p.Groups, mg = w.Dims[0] / groups;
        var outShape = p.OutputShape(x.Dims, w.Dims);
        var y = new Tensor<int>(outShape);
        for (int g = 0; g < groups; g++)
        {
            var wg = Slice(wf, 0, g * mg, mg);
            Tensor<int>? acc = null;
            for (int c0 = 0; c0 < cg; c0 += sliceChannels)
            {
                int len = Math.Min(sliceChannels, cg - c0);
                var part = Kernels.Conv.Forward(Slice(xf, 1, g * cg + c0, len), Slice(wg, 1, c0, len), null, single);
                acc = Accumulate(acc, part);
            }
            Place(acc!, y, 1, g * mg);
        }
        return y;
    }

    /// <summary>
    /// Requantizes int32 accumulators: <c>q = clamp(round(acc·multiplier[c]) + zeroPoint, qmin, qmax)</c> (round half to
    /// even, float32 product as ONNX Runtime's requantization computes it), with one multiplier per tensor or per slice
    /// along <paramref name="axis"/> (the output channel of QLinearConv).
    /// </summary>
    public static Tensor<T> Requantize<T>(Tensor<int> acc, float[] multiplier, int axis, int zeroPoint, int qmin, int qmax) where T : unmanaged =>
        Requantize<T>(acc, multiplier, axis, zeroPoint, qmin, qmax, QuantizeRuns.Best);

    internal static unsafe Tensor<T> Requantize<T>(Tensor<int> acc, float[] multiplier, int axis, int zeroPoint, int qmin, int qmax, QuantSimd simd) where T : unmanaged
    {
        int channels = 1, inner = acc.Length;
        if (multiplier.Length != 1)
        {
            int ax = Check.Axis("Requantize", "axis", axis, acc.Rank);
            Check.That(multiplier.Length == acc.Dims[ax], "Requantize", "multiplier", $"1 or {acc.Dims[ax]} values", $"{multiplier.Length}");
            channels = acc.Dims[ax];
            inner = 1;
            for (int i = ax + 1; i < acc.Rank; i++) inner *= acc.Dims[i];
        }
        var (tmin, tmax) = QuantRange.OfType<T>();
        Check.That(qmin >= tmin && qmax <= tmax && qmin <= zeroPoint && zeroPoint <= qmax, "Requantize", "zeroPoint/qmin/qmax",
            $"qmin <= zeroPoint <= qmax within {typeof(T).Name}'s [{tmin}, {tmax}]", $"zeroPoint {zeroPoint}, range [{qmin}, {qmax}]");
        var y = Tensor<T>.Uninitialized(acc.Dims);
        var a = acc.Data;
        var o = y.Data;
        QuantizeKernels.Runs(acc.Length, channels, inner, (start, n, c) =>
        {
            fixed (int* pa = a) fixed (T* po = o)
                QuantizeRuns.Requantize(simd, pa + start, po + start, n, multiplier[c], zeroPoint, qmin, qmax);
        });
        return y;
    }

    /// <summary>The longest slice of a reduction of <paramref name="k"/> terms, each at most <paramref name="maxProduct"/>, whose sums stay exact in float.</summary>
    private static int SliceLength(int k, double maxProduct) =>
        maxProduct <= 0 || k * maxProduct <= ExactLimit ? Math.Max(k, 1) : Math.Max(1, (int)(ExactLimit / maxProduct));

    private static Tensor<int> ToInt(Tensor<float> f)
    {
        var o = Tensor<int>.Uninitialized(f.Dims);
        var s = f.Data;
        var d = o.Data;
        for (int i = 0; i < s.Length; i++) d[i] = (int)s[i];
        return o;
    }

    private static Tensor<int> Accumulate(Tensor<int>? acc, Tensor<float> part)
    {
        if (acc is null) return ToInt(part);
        var d = acc.Data;
        var s = part.Data;
        for (int i = 0; i < d.Length; i++) d[i] = unchecked(d[i] + (int)s[i]);
        return acc;
    }

    /// <summary>Copy of [start, start + length) along <paramref name="axis"/>.</summary>
    internal static Tensor<float> Slice(Tensor<float> t, int axis, int start, int length)
    {
        var shape = t.Shape;
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        int dim = shape[axis];
        shape[axis] = length;
        var o = Tensor<float>.Uninitialized(shape);
        for (int r = 0; r < outer; r++)
            Array.Copy(t.Data, ((long)r * dim + start) * inner, o.Data, (long)r * length * inner, (long)length * inner);
        return o;
    }

    private static void Place(Tensor<int> part, Tensor<int> into, int axis, int start)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= into.Dims[i];
        for (int i = axis + 1; i < into.Rank; i++) inner *= into.Dims[i];
        int dim = into.Dims[axis], len = part.Dims[axis];
        for (int r = 0; r < outer; r++)
            Array.Copy(part.Data, (long)r * len * inner, into.Data, ((long)r * dim + start) * inner, (long)len * inner);
    }
}
