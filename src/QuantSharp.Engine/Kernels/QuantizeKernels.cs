using System.Runtime.CompilerServices;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The one affine quantization kernel family under every quantizer (ONNX QDQ ops, AIMET encodings,
/// pytorch-quantization amax quantizers): quantize, dequantize, fake-quantize and the straight-through backward,
/// per tensor or per axis, any bit-width 2–16, round-half-even or seeded stochastic rounding.
/// </summary>
/// <remarks>
/// <para>Math (see <see cref="QuantParams"/>): <c>q = clamp(round(x / scale) + zeroPoint, qmin, qmax)</c>,
/// <c>x̂ = (q − zeroPoint)·scale</c>. The division is a true IEEE division, so results equal ONNX Runtime's
/// bit for bit, ties included; <see cref="QuantizeReference"/> is the scalar specification and the Vector512
/// (else Vector256) paths match it exactly.</para>
/// <para>Layout: the tensor is walked as [outer, channels, inner] (channels = the size of the per-axis axis, 1 per
/// tensor) in coarse blocks over both cores; each contiguous run of one channel is a vector loop. A per-axis
/// quantizer whose inner extent is shorter than a vector (e.g. the last axis of a MatMul weight) instead reads per-position
/// scale and zero-point vectors from a repeating pattern, so it vectorizes as well.</para>
/// </remarks>
public static unsafe class QuantizeKernels
{
    private const int Grain = 1 << 15;

    /// <summary>Quantizes <paramref name="x"/> to integers of type <typeparamref name="T"/> (sbyte, byte, short, ushort or int).</summary>
    /// <exception cref="ShapeException">Invalid parameters (see <see cref="QuantParams.Validate"/>), or a range outside <typeparamref name="T"/>'s.</exception>
    public static Tensor<T> Quantize<T>(Tensor<float> x, QuantParams p) where T : unmanaged
    {
        var q = Tensor<T>.Uninitialized(x.Dims);
        Quantize(x, p, q);
        return q;
    }

    /// <summary>Quantizes <paramref name="x"/> into <paramref name="destination"/> (same shape).</summary>
    /// <exception cref="ShapeException">Invalid parameters or a destination of another shape.</exception>
    public static void Quantize<T>(Tensor<float> x, QuantParams p, Tensor<T> destination) where T : unmanaged =>
        Quantize(x, p, destination, QuantizeRuns.Best);

    internal static void Quantize<T>(Tensor<float> x, QuantParams p, Tensor<T> destination, QuantSimd simd) where T : unmanaged
    {
        var (_, channels, inner) = p.Validate("Quantize", x.Dims);
        Check.SameShape("Quantize", "destination", x.Dims, destination.Dims);
        var (tmin, tmax) = QuantRange.OfType<T>();
        Check.That(p.QMin >= tmin && p.QMax <= tmax, "Quantize", "qmin/qmax", $"a range within {typeof(T).Name}'s [{tmin}, {tmax}]", $"[{p.QMin}, {p.QMax}]");
        bool stochastic = p.Rounding == QuantRounding.Stochastic;
        var xs = x.Data;
        var qs = destination.Data;
        if (Pattern(p, channels, inner) is { } pat)
            PatternRuns(x.Length, pat.Period, (start, n, o) =>
            {
                fixed (float* px = xs) fixed (T* pq = qs) fixed (float* ps = pat.Scale) fixed (float* pz = pat.Zero) fixed (int* pzi = pat.ZeroInt)
                    QuantizeRuns.Quantize(simd, px + start, pq + start, n, new PatternParams(ps + o, pz + o, pzi + o), p.QMin, p.QMax, stochastic, p.Seed, start);
            });
        else
            Runs(x.Length, channels, inner, (start, n, c) =>
            {
                fixed (float* px = xs) fixed (T* pq = qs)
                    QuantizeRuns.Quantize(simd, px + start, pq + start, n, new UniformParams(p.Scale[c], p.ZeroPoint[c]), p.QMin, p.QMax, stochastic, p.Seed, start);
            });
    }

    /// <summary>Dequantizes: <c>y = (q − zeroPoint)·scale</c> (the integer difference is exact, then one float rounding).</summary>
    /// <exception cref="ShapeException">Invalid scale, zero point or axis.</exception>
    public static Tensor<float> Dequantize<T>(Tensor<T> q, QuantParams p) where T : unmanaged => Dequantize(q, p, QuantizeRuns.Best);

    /// <summary>Dequantizes into <paramref name="destination"/> (same shape).</summary>
    /// <exception cref="ShapeException">Invalid scale, zero point or axis, or a destination of another shape.</exception>
    public static void Dequantize<T>(Tensor<T> q, QuantParams p, Tensor<float> destination) where T : unmanaged =>
        Dequantize(q, p, destination, QuantizeRuns.Best);

    internal static Tensor<float> Dequantize<T>(Tensor<T> q, QuantParams p, QuantSimd simd) where T : unmanaged
    {
        var y = Tensor<float>.Uninitialized(q.Dims);
        Dequantize(q, p, y, simd);
        return y;
    }

    internal static void Dequantize<T>(Tensor<T> q, QuantParams p, Tensor<float> destination, QuantSimd simd) where T : unmanaged
    {
        var (_, channels, inner) = p.Validate("Dequantize", q.Dims, checkRange: false);
        Check.SameShape("Dequantize", "destination", q.Dims, destination.Dims);
        var qs = q.Data;
        var ys = destination.Data;
        if (Pattern(p, channels, inner) is { } pat)
            PatternRuns(q.Length, pat.Period, (start, n, o) =>
            {
                fixed (T* pq = qs) fixed (float* py = ys) fixed (float* ps = pat.Scale) fixed (float* pz = pat.Zero) fixed (int* pzi = pat.ZeroInt)
                    QuantizeRuns.Dequantize(simd, pq + start, py + start, n, new PatternParams(ps + o, pz + o, pzi + o));
            });
        else
            Runs(q.Length, channels, inner, (start, n, c) =>
            {
                fixed (T* pq = qs) fixed (float* py = ys)
                    QuantizeRuns.Dequantize(simd, pq + start, py + start, n, new UniformParams(p.Scale[c], p.ZeroPoint[c]));
            });
    }

    /// <summary>
    /// Fake quantization (quantize then dequantize in one pass): <c>y = (clamp(round(x/scale) + zeroPoint, qmin, qmax) − zeroPoint)·scale</c>.
    /// When <paramref name="clipMask"/> is given it receives true where <c>round(x/scale) + zeroPoint</c> lies in [qmin, qmax]
    /// (where the straight-through gradient passes).
    /// </summary>
    /// <exception cref="ShapeException">Invalid parameters, or a mask of another shape.</exception>
    public static Tensor<float> FakeQuantize(Tensor<float> x, QuantParams p, Tensor<bool>? clipMask = null)
    {
        var y = Tensor<float>.Uninitialized(x.Dims);
        FakeQuantize(x, p, y, clipMask, QuantizeRuns.Best);
        return y;
    }

    /// <summary>Fake quantization into <paramref name="destination"/> (may be <paramref name="x"/> itself for in-place use).</summary>
    public static void FakeQuantize(Tensor<float> x, QuantParams p, Tensor<float> destination, Tensor<bool>? clipMask = null) =>
        FakeQuantize(x, p, destination, clipMask, QuantizeRuns.Best);

    internal static void FakeQuantize(Tensor<float> x, QuantParams p, Tensor<float> destination, Tensor<bool>? clipMask, QuantSimd simd)
    {
        var (_, channels, inner) = p.Validate("FakeQuantize", x.Dims);
        Check.SameShape("FakeQuantize", "destination", x.Dims, destination.Dims);
        if (clipMask is not null) Check.SameShape("FakeQuantize", "clipMask", x.Dims, clipMask.Dims);
        bool stochastic = p.Rounding == QuantRounding.Stochastic;
        var xs = x.Data;
        var ys = destination.Data;
        var ms = clipMask?.Data;
        if (Pattern(p, channels, inner) is { } pat)
            PatternRuns(x.Length, pat.Period, (start, n, o) =>
            {
                fixed (float* px = xs) fixed (float* py = ys) fixed (bool* pm = ms)
                fixed (float* ps = pat.Scale) fixed (float* pz = pat.Zero) fixed (int* pzi = pat.ZeroInt)
                    QuantizeRuns.FakeQuantize(simd, px + start, py + start, pm == null ? null : pm + start, n, new PatternParams(ps + o, pz + o, pzi + o),
                        p.QMin, p.QMax, stochastic, p.Seed, start);
            });
        else
            Runs(x.Length, channels, inner, (start, n, c) =>
            {
                fixed (float* px = xs) fixed (float* py = ys) fixed (bool* pm = ms)
                    QuantizeRuns.FakeQuantize(simd, px + start, py + start, pm == null ? null : pm + start, n, new UniformParams(p.Scale[c], p.ZeroPoint[c]),
                        p.QMin, p.QMax, stochastic, p.Seed, start);
            });
    }

    /// <summary>
    /// Straight-through estimator of fake quantization's gradient: <c>dx = dy</c> where <c>round(x/scale) + zeroPoint</c>
    /// lies in [qmin, qmax], 0 where clipped (and for NaN inputs). Round-half-even classification (a stochastic forward
    /// should use its clip mask instead).
    /// </summary>
    /// <exception cref="ShapeException">Invalid parameters or <paramref name="gradOutput"/> of another shape.</exception>
    public static Tensor<float> FakeQuantizeBackward(Tensor<float> x, Tensor<float> gradOutput, QuantParams p) =>
        FakeQuantizeBackward(x, gradOutput, p, QuantizeRuns.Best);

    internal static Tensor<float> FakeQuantizeBackward(Tensor<float> x, Tensor<float> gradOutput, QuantParams p, QuantSimd simd)
    {
        var (_, channels, inner) = p.Validate("FakeQuantizeBackward", x.Dims);
        Check.SameShape("FakeQuantizeBackward", "gradOutput", x.Dims, gradOutput.Dims);
        var gx = Tensor<float>.Uninitialized(x.Dims);
        var xs = x.Data;
        var gs = gradOutput.Data;
        var os = gx.Data;
        if (Pattern(p, channels, inner) is { } pat)
            PatternRuns(x.Length, pat.Period, (start, n, o) =>
            {
                fixed (float* px = xs) fixed (float* pg = gs) fixed (float* po = os)
                fixed (float* ps = pat.Scale) fixed (float* pz = pat.Zero) fixed (int* pzi = pat.ZeroInt)
                    QuantizeRuns.StraightThrough(simd, px + start, pg + start, po + start, n, new PatternParams(ps + o, pz + o, pzi + o), p.QMin, p.QMax);
            });
        else
            Runs(x.Length, channels, inner, (start, n, c) =>
            {
                fixed (float* px = xs) fixed (float* pg = gs) fixed (float* po = os)
                    QuantizeRuns.StraightThrough(simd, px + start, pg + start, po + start, n, new UniformParams(p.Scale[c], p.ZeroPoint[c]), p.QMin, p.QMax);
            });
        return gx;
    }

    /// <summary>Gradient through a clip mask: <c>dx = dy</c> where <paramref name="clipMask"/> is true, else 0.</summary>
    public static Tensor<float> ApplyClipMask(Tensor<float> gradOutput, Tensor<bool> clipMask)
    {
        Check.SameShape("ApplyClipMask", "clipMask", gradOutput.Dims, clipMask.Dims);
        var gx = Tensor<float>.Uninitialized(gradOutput.Dims);
        var g = gradOutput.Data;
        var m = clipMask.Data;
        var o = gx.Data;
        Work.For(g.Length, Grain, (s, e) =>
        {
            for (int i = s; i < e; i++) o[i] = m[i] ? g[i] : 0f;
        });
        return gx;
    }

    /// <summary>Per-position scales and zero points repeating with <see cref="Period"/> elements along the flattened tensor.</summary>
    private sealed record ParamPattern(float[] Scale, float[] Zero, int[] ZeroInt, int Period);

    /// <summary>
    /// For per-axis parameters whose single-channel runs are shorter than a vector (inner extent &lt; 16), the
    /// [channels·inner] pattern of per-position parameters, repeated to at least 256 positions so runs vectorize; else null.
    /// </summary>
    private static ParamPattern? Pattern(QuantParams p, int channels, int inner)
    {
        if (channels == 1 || inner >= 16 || inner == 0) return null;
        int period = channels * inner;
        int reps = Math.Max(1, (256 + period - 1) / period);
        int len = period * reps;
        var s = new float[len];
        var z = new float[len];
        var zi = new int[len];
        for (int i = 0; i < len; i++)
        {
            int c = i / inner % channels;
            s[i] = p.Scale[c];
            zi[i] = p.ZeroPoint[c];
            z[i] = zi[i];
        }
        return new ParamPattern(s, z, zi, len);
    }

    /// <summary>Calls <paramref name="run"/>(start, count, offset into the pattern) over runs that stay within one pattern period.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PatternRuns(int length, int period, Action<int, int, int> run) =>
        Work.For(length, Grain, (start, end) =>
        {
            int i = start;
            while (i < end)
            {
                int o = i % period;
                int stop = Math.Min(end, i - o + period);
                run(i, stop - i, o);
                i = stop;
            }
        });

    /// <summary>Calls <paramref name="run"/>(start, count, channel) over every maximal single-channel run, blocks in parallel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Runs(int length, int channels, int inner, Action<int, int, int> run)
    {
        if (inner == 0) return;
        Work.For(length, Grain, (start, end) =>
        {
            int i = start;
            while (i < end)
            {
                int row = i / inner;
                int stop = Math.Min(end, (row + 1) * inner);
                run(i, stop - i, channels == 1 ? 0 : row % channels);
                i = stop;
            }
        });
    }
}
