using System.Runtime.CompilerServices;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Scalar reference of the affine quantization family: the specification the vector paths of
/// <see cref="QuantizeKernels"/> match bit for bit (ties, clipping, NaN and stochastic draws included).
/// </summary>
public static class QuantizeReference
{
    /// <summary>
    /// One quantized level as a float: <c>clamp(round(x / scale) + zeroPoint, qmin, qmax)</c>, rounding half to even;
    /// NaN gives the zero point.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Level(float x, float scale, float zeroPoint, float qmin, float qmax)
    {
        float r = MathF.Round(x / scale) + zeroPoint;
        return Clamp(r, zeroPoint, qmin, qmax);
    }

    /// <summary>
    /// Requantized level of an int32 accumulator: <c>clamp(round((float)acc·multiplier) + zeroPoint, qmin, qmax)</c> — a float32
    /// product rounded half to even, as ONNX Runtime's QLinearConv/QLinearMatMul requantization computes it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RequantizeLevel(int acc, float multiplier, float zeroPoint, float qmin, float qmax)
    {
        float r = MathF.Round(acc * multiplier) + zeroPoint;
        return Clamp(r, zeroPoint, qmin, qmax);
    }

    /// <summary>True when <c>round(x / scale) + zeroPoint</c> lies in [qmin, qmax] (the straight-through gradient passes); false for NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool InRange(float x, float scale, float zeroPoint, float qmin, float qmax)
    {
        float r = MathF.Round(x / scale) + zeroPoint;
        return r >= qmin && r <= qmax;
    }

    /// <summary>Stochastically rounded level: <c>clamp(floor(x / scale + u) + zeroPoint, qmin, qmax)</c>, u = <see cref="Uniform"/>(seed, index).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float StochasticLevel(float x, float scale, float zeroPoint, float qmin, float qmax, uint seed, long index)
    {
        float r = MathF.Floor(x / scale + Uniform(seed, index)) + zeroPoint;
        return Clamp(r, zeroPoint, qmin, qmax);
    }

    /// <summary>
    /// The uniform draw in [0, 1) of element <paramref name="index"/>: the top 24 bits of MurmurHash3's 32-bit finalizer
    /// of <c>(uint)index·0x9E3779B1 + seed</c>, times 2^−24 (the stream repeats after 2^32 elements).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Uniform(uint seed, long index)
    {
        uint h = unchecked((uint)index * 0x9E3779B1u + seed);
        h ^= h >> 16;
        h = unchecked(h * 0x85EBCA6Bu);
        h ^= h >> 13;
        h = unchecked(h * 0xC2B2AE35u);
        h ^= h >> 16;
        return (int)(h >> 8) * (1f / (1 << 24));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Clamp(float r, float zeroPoint, float qmin, float qmax)
    {
        if (float.IsNaN(r)) return zeroPoint;
        return r < qmin ? qmin : r > qmax ? qmax : r;
    }

    /// <summary>Quantizes <paramref name="x"/> into <paramref name="q"/> (same length) with parameters <paramref name="p"/> over <paramref name="shape"/>.</summary>
    public static void Quantize<T>(ReadOnlySpan<float> x, Span<T> q, ReadOnlySpan<int> shape, QuantParams p) where T : unmanaged
    {
        var (_, channels, inner) = p.Validate("Quantize", shape);
        for (int i = 0; i < x.Length; i++)
        {
            int c = channels == 1 ? 0 : i / inner % channels;
            float l = p.Rounding == QuantRounding.Stochastic
                ? StochasticLevel(x[i], p.Scale[c], p.ZeroPoint[c], p.QMin, p.QMax, p.Seed, i)
                : Level(x[i], p.Scale[c], p.ZeroPoint[c], p.QMin, p.QMax);
            q[i] = FromInt<T>((int)l);
        }
    }

    /// <summary>Dequantizes: <c>y = (float)(q − zeroPoint)·scale</c>.</summary>
    public static void Dequantize<T>(ReadOnlySpan<T> q, Span<float> y, ReadOnlySpan<int> shape, QuantParams p) where T : unmanaged
    {
        var (_, channels, inner) = p.Validate("Dequantize", shape, checkRange: false);
        for (int i = 0; i < q.Length; i++)
        {
            int c = channels == 1 ? 0 : i / inner % channels;
            y[i] = (float)(ToInt(q[i]) - p.ZeroPoint[c]) * p.Scale[c];
        }
    }

    /// <summary>Fake-quantizes: <c>y = (level − zeroPoint)·scale</c>; <paramref name="mask"/> (optional) gets 1 where not clipped.</summary>
    public static void FakeQuantize(ReadOnlySpan<float> x, Span<float> y, Span<bool> mask, ReadOnlySpan<int> shape, QuantParams p)
    {
        var (_, channels, inner) = p.Validate("FakeQuantize", shape);
        for (int i = 0; i < x.Length; i++)
        {
            int c = channels == 1 ? 0 : i / inner % channels;
            float s = p.Scale[c], z = p.ZeroPoint[c];
            float l;
            if (p.Rounding == QuantRounding.Stochastic)
            {
                float r = MathF.Floor(x[i] / s + Uniform(p.Seed, i)) + z;
                if (!mask.IsEmpty) mask[i] = r >= p.QMin && r <= p.QMax;
                l = StochasticLevel(x[i], s, z, p.QMin, p.QMax, p.Seed, i);
            }
            else
            {
                if (!mask.IsEmpty) mask[i] = InRange(x[i], s, z, p.QMin, p.QMax);
                l = Level(x[i], s, z, p.QMin, p.QMax);
            }
            y[i] = (l - z) * s;
        }
    }

    /// <summary>Straight-through gradient: <c>gx = gy</c> where <see cref="InRange"/>, else 0.</summary>
    public static void FakeQuantizeBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> gy, Span<float> gx, ReadOnlySpan<int> shape, QuantParams p)
    {
        var (_, channels, inner) = p.Validate("FakeQuantizeBackward", shape);
        for (int i = 0; i < x.Length; i++)
        {
            int c = channels == 1 ? 0 : i / inner % channels;
            gx[i] = InRange(x[i], p.Scale[c], p.ZeroPoint[c], p.QMin, p.QMax) ? gy[i] : 0f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T FromInt<T>(int v) where T : unmanaged
    {
        if (typeof(T) == typeof(sbyte)) { var b = (sbyte)v; return Unsafe.As<sbyte, T>(ref b); }
        if (typeof(T) == typeof(byte)) { var b = (byte)v; return Unsafe.As<byte, T>(ref b); }
        if (typeof(T) == typeof(short)) { var b = (short)v; return Unsafe.As<short, T>(ref b); }
        if (typeof(T) == typeof(ushort)) { var b = (ushort)v; return Unsafe.As<ushort, T>(ref b); }
        if (typeof(T) == typeof(int)) return Unsafe.As<int, T>(ref v);
        throw new NotSupportedException($"Quantize: element type {typeof(T).Name} is not an integer type; expected sbyte, byte, short, ushort or int");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int ToInt<T>(T v) where T : unmanaged
    {
        if (typeof(T) == typeof(sbyte)) return Unsafe.As<T, sbyte>(ref v);
        if (typeof(T) == typeof(byte)) return Unsafe.As<T, byte>(ref v);
        if (typeof(T) == typeof(short)) return Unsafe.As<T, short>(ref v);
        if (typeof(T) == typeof(ushort)) return Unsafe.As<T, ushort>(ref v);
        if (typeof(T) == typeof(int)) return Unsafe.As<T, int>(ref v);
        throw new NotSupportedException($"Dequantize: element type {typeof(T).Name} is not an integer type; expected sbyte, byte, short, ushort or int");
    }
}
