using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using R = QuantSharp.Engine.Kernels.QuantizeReference;

namespace QuantSharp.Engine.Kernels;

/// <summary>Which instruction width a quantization kernel runs with (tests force each one).</summary>
internal enum QuantSimd { Scalar, V256, V512 }

/// <summary>
/// The inner loops of <see cref="QuantizeKernels"/>: one contiguous run of elements sharing one scale and zero point.
/// Each vector loop ends with the scalar reference on the tail, and computes exactly what
/// <see cref="QuantizeReference"/> computes: the same IEEE division, round-half-even (vrndscaleps) or floor, the same
/// compare-and-select clamp, NaN to the zero point.
/// </summary>
internal static unsafe class QuantizeRuns
{
    /// <summary>The widest path this machine runs.</summary>
    public static readonly QuantSimd Best =
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? QuantSimd.V512 : Avx2.IsSupported ? QuantSimd.V256 : QuantSimd.Scalar;

    // ---- level computation (vector forms of QuantizeReference.Level / StochasticLevel) ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Clamp(Vector512<float> r, Vector512<float> z, Vector512<float> lo, Vector512<float> hi)
    {
        var c = Vector512.ConditionalSelect(Vector512.LessThan(r, lo), lo, r);
        c = Vector512.ConditionalSelect(Vector512.GreaterThan(r, hi), hi, c);
        return Vector512.ConditionalSelect(Vector512.Equals(r, r), c, z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Clamp(Vector256<float> r, Vector256<float> z, Vector256<float> lo, Vector256<float> hi)
    {
        var c = Vector256.ConditionalSelect(Vector256.LessThan(r, lo), lo, r);
        c = Vector256.ConditionalSelect(Vector256.GreaterThan(r, hi), hi, c);
        return Vector256.ConditionalSelect(Vector256.Equals(r, r), c, z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Uniform(uint seed, long index)
    {
        var h = (Vector512.Create((uint)index) + Vector512<uint>.Indices) * Vector512.Create(0x9E3779B1u) + Vector512.Create(seed);
        h ^= Vector512.ShiftRightLogical(h, 16);
        h *= Vector512.Create(0x85EBCA6Bu);
        h ^= Vector512.ShiftRightLogical(h, 13);
        h *= Vector512.Create(0xC2B2AE35u);
        h ^= Vector512.ShiftRightLogical(h, 16);
        return Vector512.ConvertToSingle(Vector512.ShiftRightLogical(h, 8).AsInt32()) * Vector512.Create(1f / (1 << 24));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Uniform256(uint seed, long index)
    {
        var h = (Vector256.Create((uint)index) + Vector256<uint>.Indices) * Vector256.Create(0x9E3779B1u) + Vector256.Create(seed);
        h ^= Vector256.ShiftRightLogical(h, 16);
        h *= Vector256.Create(0x85EBCA6Bu);
        h ^= Vector256.ShiftRightLogical(h, 13);
        h *= Vector256.Create(0xC2B2AE35u);
        h ^= Vector256.ShiftRightLogical(h, 16);
        return Vector256.ConvertToSingle(Vector256.ShiftRightLogical(h, 8).AsInt32()) * Vector256.Create(1f / (1 << 24));
    }

    /// <summary>Unclamped level r = round(x/s) + z (or floor(x/s + u) + z when stochastic).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Raw(Vector512<float> x, Vector512<float> s, Vector512<float> z, bool stochastic, uint seed, long index) =>
        stochastic ? Vector512.Floor(x / s + Uniform(seed, index)) + z : Vector512.Round(x / s) + z;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Raw(Vector256<float> x, Vector256<float> s, Vector256<float> z, bool stochastic, uint seed, long index) =>
        stochastic ? Vector256.Floor(x / s + Uniform256(seed, index)) + z : Vector256.Round(x / s) + z;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ScalarLevel(float x, float s, float z, float lo, float hi, bool stochastic, uint seed, long index) =>
        stochastic ? R.StochasticLevel(x, s, z, lo, hi, seed, index) : R.Level(x, s, z, lo, hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ScalarRaw(float x, float s, float z, bool stochastic, uint seed, long index) =>
        stochastic ? MathF.Floor(x / s + R.Uniform(seed, index)) + z : MathF.Round(x / s) + z;

    // ---- quantize ----

    /// <summary>q[i] = level(x[i]) for i in [0, n); <paramref name="index"/> is the global index of x[0] (stochastic draws).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Quantize<T, TP>(QuantSimd simd, float* x, T* q, int n, TP prm, int qmin, int qmax,
        bool stochastic, uint seed, long index) where T : unmanaged where TP : struct, IQuantParamSource
    {
        float lo = qmin, hi = qmax;
        int i = 0;
        if (simd == QuantSimd.V512)
        {
            Vector512<float> vlo = Vector512.Create(lo), vhi = Vector512.Create(hi);
            for (; i <= n - 16; i += 16)
            {
                Vector512<float> vs = prm.Scale512(i), vz = prm.Zero512(i);
                var l = Clamp(Raw(Vector512.Load(x + i), vs, vz, stochastic, seed, index + i), vz, vlo, vhi);
                Store512(Vector512.ConvertToInt32(l), q + i);
            }
        }
        else if (simd == QuantSimd.V256)
        {
            Vector256<float> vlo = Vector256.Create(lo), vhi = Vector256.Create(hi);
            int* tmp = stackalloc int[8];
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> vs = prm.Scale256(i), vz = prm.Zero256(i);
                var l = Clamp(Raw(Vector256.Load(x + i), vs, vz, stochastic, seed, index + i), vz, vlo, vhi);
                if (typeof(T) == typeof(int)) Vector256.ConvertToInt32(l).Store((int*)(q + i));
                else
                {
                    Vector256.ConvertToInt32(l).Store(tmp);
                    for (int j = 0; j < 8; j++) q[i + j] = R.FromInt<T>(tmp[j]);
                }
            }
        }
        for (; i < n; i++) q[i] = R.FromInt<T>((int)ScalarLevel(x[i], prm.Scale(i), prm.Zero(i), lo, hi, stochastic, seed, index + i));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512<T>(Vector512<int> v, T* dst) where T : unmanaged
    {
        // Values are already clamped into T's range, so the truncating narrowings are exact.
        if (typeof(T) == typeof(int)) v.Store((int*)dst);
        else if (typeof(T) == typeof(sbyte)) Avx512F.ConvertToVector128SByte(v).Store((sbyte*)dst);
        else if (typeof(T) == typeof(byte)) Avx512F.ConvertToVector128Byte(v).Store((byte*)dst);
        else if (typeof(T) == typeof(short)) Avx512F.ConvertToVector256Int16(v).Store((short*)dst);
        else if (typeof(T) == typeof(ushort)) Avx512F.ConvertToVector256UInt16(v).Store((ushort*)dst);
        else throw new NotSupportedException(typeof(T).Name);
    }

    // ---- dequantize ----

    /// <summary>y[i] = (q[i] − zeroPoint)·scale for i in [0, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dequantize<T, TP>(QuantSimd simd, T* q, float* y, int n, TP prm) where T : unmanaged where TP : struct, IQuantParamSource
    {
        int i = 0;
        if (simd == QuantSimd.V512)
        {
            for (; i <= n - 16; i += 16)
                (Vector512.ConvertToSingle(Load512(q + i) - prm.ZeroInt512(i)) * prm.Scale512(i)).Store(y + i);
        }
        else if (simd == QuantSimd.V256)
        {
            for (; i <= n - 8; i += 8)
                (Vector256.ConvertToSingle(Load256(q + i) - prm.ZeroInt256(i)) * prm.Scale256(i)).Store(y + i);
        }
        for (; i < n; i++) y[i] = (float)(R.ToInt(q[i]) - prm.ZeroInt(i)) * prm.Scale(i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Load512<T>(T* p) where T : unmanaged
    {
        if (typeof(T) == typeof(int)) return Vector512.Load((int*)p);
        if (typeof(T) == typeof(sbyte)) return Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)p));
        if (typeof(T) == typeof(byte)) return Avx512F.ConvertToVector512Int32(Vector128.Load((byte*)p));
        if (typeof(T) == typeof(short)) return Avx512F.ConvertToVector512Int32(Vector256.Load((short*)p));
        if (typeof(T) == typeof(ushort)) return Avx512F.ConvertToVector512Int32(Vector256.Load((ushort*)p));
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Load256<T>(T* p) where T : unmanaged
    {
        if (typeof(T) == typeof(int)) return Vector256.Load((int*)p);
        if (typeof(T) == typeof(sbyte)) return Avx2.ConvertToVector256Int32((sbyte*)p);
        if (typeof(T) == typeof(byte)) return Avx2.ConvertToVector256Int32((byte*)p);
        if (typeof(T) == typeof(short)) return Avx2.ConvertToVector256Int32((short*)p);
        if (typeof(T) == typeof(ushort)) return Avx2.ConvertToVector256Int32((ushort*)p);
        throw new NotSupportedException(typeof(T).Name);
    }

    // ---- requantize (int32 accumulators to integers) ----

    /// <summary>q[i] = clamp(round(acc[i]·multiplier) + zeroPoint, qmin, qmax) for i in [0, n) (see <see cref="QuantizeReference.RequantizeLevel"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Requantize<T>(QuantSimd simd, int* acc, T* q, int n, float multiplier, int zeroPoint, int qmin, int qmax) where T : unmanaged
    {
        float z = zeroPoint, lo = qmin, hi = qmax;
        int i = 0;
        if (simd == QuantSimd.V512)
        {
            Vector512<float> vm = Vector512.Create(multiplier), vz = Vector512.Create(z), vlo = Vector512.Create(lo), vhi = Vector512.Create(hi);
            for (; i <= n - 16; i += 16)
            {
                var r = Vector512.Round(Vector512.ConvertToSingle(Vector512.Load(acc + i)) * vm) + vz;
                Store512(Vector512.ConvertToInt32(Clamp(r, vz, vlo, vhi)), q + i);
            }
        }
        else if (simd == QuantSimd.V256)
        {
            Vector256<float> vm = Vector256.Create(multiplier), vz = Vector256.Create(z), vlo = Vector256.Create(lo), vhi = Vector256.Create(hi);
            int* tmp = stackalloc int[8];
            for (; i <= n - 8; i += 8)
            {
                var r = Vector256.Round(Vector256.ConvertToSingle(Vector256.Load(acc + i)) * vm) + vz;
                Vector256.ConvertToInt32(Clamp(r, vz, vlo, vhi)).Store(tmp);
                for (int j = 0; j < 8; j++) q[i + j] = R.FromInt<T>(tmp[j]);
            }
        }
        for (; i < n; i++) q[i] = R.FromInt<T>((int)R.RequantizeLevel(acc[i], multiplier, z, lo, hi));
    }

    // ---- fake quantize and its straight-through backward ----

    /// <summary>y[i] = (level(x[i]) − zeroPoint)·scale; mask[i] = not clipped (when <paramref name="mask"/> is not null).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FakeQuantize<TP>(QuantSimd simd, float* x, float* y, bool* mask, int n, TP prm, int qmin, int qmax,
        bool stochastic, uint seed, long index) where TP : struct, IQuantParamSource
    {
        float lo = qmin, hi = qmax;
        int i = 0;
        if (simd == QuantSimd.V512)
        {
            Vector512<float> vlo = Vector512.Create(lo), vhi = Vector512.Create(hi);
            for (; i <= n - 16; i += 16)
            {
                Vector512<float> vs = prm.Scale512(i), vz = prm.Zero512(i);
                var r = Raw(Vector512.Load(x + i), vs, vz, stochastic, seed, index + i);
                ((Clamp(r, vz, vlo, vhi) - vz) * vs).Store(y + i);
                if (mask != null)
                {
                    var m = Vector512.GreaterThanOrEqual(r, vlo) & Vector512.LessThanOrEqual(r, vhi);
                    Avx512F.ConvertToVector128Byte(m.AsInt32() & Vector512<int>.One).Store((byte*)(mask + i));
                }
            }
        }
        else if (simd == QuantSimd.V256)
        {
            Vector256<float> vlo = Vector256.Create(lo), vhi = Vector256.Create(hi);
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> vs = prm.Scale256(i), vz = prm.Zero256(i);
                var r = Raw(Vector256.Load(x + i), vs, vz, stochastic, seed, index + i);
                ((Clamp(r, vz, vlo, vhi) - vz) * vs).Store(y + i);
                if (mask != null)
                {
                    uint bits = (Vector256.GreaterThanOrEqual(r, vlo) & Vector256.LessThanOrEqual(r, vhi)).ExtractMostSignificantBits();
                    for (int j = 0; j < 8; j++) mask[i + j] = (bits >> j & 1) != 0;
                }
            }
        }
        for (; i < n; i++)
        {
            float scale = prm.Scale(i), z = prm.Zero(i);
            float r = ScalarRaw(x[i], scale, z, stochastic, seed, index + i);
            if (mask != null) mask[i] = r >= lo && r <= hi;
            y[i] = (ScalarLevel(x[i], scale, z, lo, hi, stochastic, seed, index + i) - z) * scale;
        }
    }

    /// <summary>gx[i] = gy[i] where round(x[i]/scale) + zeroPoint lies in [qmin, qmax], else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StraightThrough<TP>(QuantSimd simd, float* x, float* gy, float* gx, int n, TP prm, int qmin, int qmax)
        where TP : struct, IQuantParamSource
    {
        float lo = qmin, hi = qmax;
        int i = 0;
        if (simd == QuantSimd.V512)
        {
            Vector512<float> vlo = Vector512.Create(lo), vhi = Vector512.Create(hi);
            for (; i <= n - 16; i += 16)
            {
                var r = Vector512.Round(Vector512.Load(x + i) / prm.Scale512(i)) + prm.Zero512(i);
                var m = Vector512.GreaterThanOrEqual(r, vlo) & Vector512.LessThanOrEqual(r, vhi);
                (Vector512.Load(gy + i) & m).Store(gx + i);
            }
        }
        else if (simd == QuantSimd.V256)
        {
            Vector256<float> vlo = Vector256.Create(lo), vhi = Vector256.Create(hi);
            for (; i <= n - 8; i += 8)
            {
                var r = Vector256.Round(Vector256.Load(x + i) / prm.Scale256(i)) + prm.Zero256(i);
                var m = Vector256.GreaterThanOrEqual(r, vlo) & Vector256.LessThanOrEqual(r, vhi);
                (Vector256.Load(gy + i) & m).Store(gx + i);
            }
        }
        for (; i < n; i++) gx[i] = R.InRange(x[i], prm.Scale(i), prm.Zero(i), lo, hi) ? gy[i] : 0f;
    }
}

/// <summary>Where a run reads its scale and zero point: one pair for the whole run, or one per position.</summary>
internal interface IQuantParamSource
{
    float Scale(int i);
    float Zero(int i);
    int ZeroInt(int i);
    Vector512<float> Scale512(int i);
    Vector512<float> Zero512(int i);
    Vector512<int> ZeroInt512(int i);
    Vector256<float> Scale256(int i);
    Vector256<float> Zero256(int i);
    Vector256<int> ZeroInt256(int i);
}

/// <summary>One scale and zero point for every element of the run (per tensor, or a long per-axis run).</summary>
internal readonly struct UniformParams(float scale, int zeroPoint) : IQuantParamSource
{
    private readonly float _s = scale, _z = zeroPoint;
    private readonly int _zi = zeroPoint;
    public float Scale(int i) => _s;
    public float Zero(int i) => _z;
    public int ZeroInt(int i) => _zi;
    public Vector512<float> Scale512(int i) => Vector512.Create(_s);
    public Vector512<float> Zero512(int i) => Vector512.Create(_z);
    public Vector512<int> ZeroInt512(int i) => Vector512.Create(_zi);
    public Vector256<float> Scale256(int i) => Vector256.Create(_s);
    public Vector256<float> Zero256(int i) => Vector256.Create(_z);
    public Vector256<int> ZeroInt256(int i) => Vector256.Create(_zi);
}

/// <summary>
/// A scale and zero point per position, read from pinned arrays aligned with the run (per-axis quantization with a
/// short inner extent, e.g. the last axis: the [channels·inner] pattern repeats along the tensor).
/// </summary>
internal readonly unsafe struct PatternParams(float* scale, float* zero, int* zeroInt) : IQuantParamSource
{
    public float Scale(int i) => scale[i];
    public float Zero(int i) => zero[i];
    public int ZeroInt(int i) => zeroInt[i];
    public Vector512<float> Scale512(int i) => Vector512.Load(scale + i);
    public Vector512<float> Zero512(int i) => Vector512.Load(zero + i);
    public Vector512<int> ZeroInt512(int i) => Vector512.Load(zeroInt + i);
    public Vector256<float> Scale256(int i) => Vector256.Load(scale + i);
    public Vector256<float> Zero256(int i) => Vector256.Load(zero + i);
    public Vector256<int> ZeroInt256(int i) => Vector256.Load(zeroInt + i);
}
