using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine;

public static partial class TensorOps
{
    /// <summary>
    /// ONNX <c>Cast</c> to element type <typeparamref name="TOut"/> (a new tensor, also when the type is unchanged).
    /// </summary>
    /// <remarks>
    /// Conversion rules (ONNX leaves out-of-range float→integer results undefined; these are .NET's defined ones):
    /// <list type="bullet">
    /// <item>float/double → integer: truncation toward zero, <b>saturating</b> at the target's range; NaN → 0.
    /// (numpy's <c>astype</c> truncates the same way in range; out of range it is undefined there too.)</item>
    /// <item>integer → narrower integer: two's-complement wrap-around (keeps the low bits), as numpy and C do.</item>
    /// <item>integer/double → float, long → double: round to nearest even.</item>
    /// <item>number → bool: <c>x != 0</c> (NaN → true); bool → number: 1 or 0.</item>
    /// <item>FP8 E4M3FN and E5M2: from their float value; to them through float, nearest with ties to even, saturating at
    /// ±448 / ±57344 (ONNX's default <c>saturate=1</c>).</item>
    /// </list>
    /// float↔int32 and float↔double run vectorized and agree bit for bit with <see cref="ConvertElement{TIn, TOut}"/>.
    /// </remarks>
    public static Tensor<TOut> Cast<TOut>(Tensor x) where TOut : unmanaged => x switch
    {
        Tensor<byte> { DataType: DataType.Float8E4M3FN or DataType.Float8E5M2 } t =>
            CastFrom<float, TOut>(new Tensor<float>(t.Data.Select(b => Kernels.Float8.Decode(b, Kernels.Float8.FormatOf(t.DataType)!.Value)).ToArray(), t.Shape)),
        Tensor<float> t => CastFrom<float, TOut>(t),
        Tensor<double> t => CastFrom<double, TOut>(t),
        Tensor<sbyte> t => CastFrom<sbyte, TOut>(t),
        Tensor<byte> t => CastFrom<byte, TOut>(t),
        Tensor<short> t => CastFrom<short, TOut>(t),
        Tensor<ushort> t => CastFrom<ushort, TOut>(t),
        Tensor<int> t => CastFrom<int, TOut>(t),
        Tensor<long> t => CastFrom<long, TOut>(t),
        Tensor<bool> t => CastFrom<bool, TOut>(t),
        _ => throw new ShapeException($"Cast: argument 'input' expected a supported element type, got {x.GetType().Name}"),
    };

    /// <summary>ONNX <c>Cast</c> to the runtime-chosen type <paramref name="to"/> (see <see cref="Cast{TOut}(Tensor)"/>).</summary>
    public static Tensor Cast(Tensor x, DataType to) => to switch
    {
        DataType.Float32 => Cast<float>(x),
        DataType.Float64 => Cast<double>(x),
        DataType.Int8 => Cast<sbyte>(x),
        DataType.UInt8 => Cast<byte>(x),
        DataType.Int16 => Cast<short>(x),
        DataType.UInt16 => Cast<ushort>(x),
        DataType.Int32 => Cast<int>(x),
        DataType.Int64 => Cast<long>(x),
        DataType.Bool => Cast<bool>(x),
        // 4-bit targets saturate to their range (as the float→narrow-integer casts do) and keep the declared type.
        DataType.Int4 => FourBit(Cast<int>(x), -8, 7, v => (sbyte)v).AsElementType(DataType.Int4),
        DataType.UInt4 => FourBit(Cast<int>(x), 0, 15, v => (byte)v).AsElementType(DataType.UInt4),
        DataType.Float8E4M3FN or DataType.Float8E5M2 =>
            new Tensor<byte>(Cast<float>(x).Data.Select(v => Kernels.Float8.Encode(v, Kernels.Float8.FormatOf(to)!.Value)).ToArray(), x.Shape).AsElementType(to),
        _ => throw new ShapeException($"Cast: argument 'to' expected a DataType member, got {(int)to}"),
    };

    private static Tensor<T> FourBit<T>(Tensor<int> wide, int lo, int hi, Func<int, T> narrow) where T : unmanaged
    {
        var r = new Tensor<T>(wide.Dims);
        for (int i = 0; i < r.Length; i++) r.Data[i] = narrow(Math.Clamp(wide.Data[i], lo, hi));
        return r;
    }

    /// <summary>Casts typed data element by element (vectorized for float↔int32 and float↔double), in parallel blocks.</summary>
    public static Tensor<TOut> CastFrom<TIn, TOut>(Tensor<TIn> x) where TIn : unmanaged where TOut : unmanaged
    {
        var y = new Tensor<TOut>(x.Dims);
        var src = x.Data; var dst = y.Data;
        if (src.Length >= 1 << 17) Work.For(src.Length, 1 << 16, (s, e) => CastSpan<TIn, TOut>(src.AsSpan(s, e - s), dst.AsSpan(s, e - s)));
        else CastSpan<TIn, TOut>(src, dst);
        return y;
    }

    /// <summary>Converts <paramref name="src"/> into <paramref name="dst"/> (same length) with the Cast rules.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CastSpan<TIn, TOut>(ReadOnlySpan<TIn> src, Span<TOut> dst) where TIn : unmanaged where TOut : unmanaged
    {
        Check.That(src.Length == dst.Length, "Cast", "dst", $"{src.Length} elements", dst.Length.ToString());
        if (typeof(TIn) == typeof(TOut)) { MemoryMarshal.Cast<TIn, TOut>(src).CopyTo(dst); return; }
        int i = 0, n = src.Length;
        if (Vector512.IsHardwareAccelerated)
        {
            if (typeof(TIn) == typeof(float) && typeof(TOut) == typeof(int))
            {
                var s = MemoryMarshal.Cast<TIn, float>(src); var d = MemoryMarshal.Cast<TOut, int>(dst);
                for (; i <= n - 16; i += 16) Vector512.ConvertToInt32(Vector512.Create(s.Slice(i, 16))).CopyTo(d.Slice(i, 16));
            }
            else if (typeof(TIn) == typeof(int) && typeof(TOut) == typeof(float))
            {
                var s = MemoryMarshal.Cast<TIn, int>(src); var d = MemoryMarshal.Cast<TOut, float>(dst);
                for (; i <= n - 16; i += 16) Vector512.ConvertToSingle(Vector512.Create(s.Slice(i, 16))).CopyTo(d.Slice(i, 16));
            }
            else if (typeof(TIn) == typeof(float) && typeof(TOut) == typeof(double))
            {
                var s = MemoryMarshal.Cast<TIn, float>(src); var d = MemoryMarshal.Cast<TOut, double>(dst);
                for (; i <= n - 16; i += 16)
                {
                    var (lo, hi) = Vector512.Widen(Vector512.Create(s.Slice(i, 16)));
                    lo.CopyTo(d.Slice(i, 8)); hi.CopyTo(d.Slice(i + 8, 8));
                }
            }
            else if (typeof(TIn) == typeof(double) && typeof(TOut) == typeof(float))
            {
                var s = MemoryMarshal.Cast<TIn, double>(src); var d = MemoryMarshal.Cast<TOut, float>(dst);
                for (; i <= n - 16; i += 16)
                    Vector512.Narrow(Vector512.Create(s.Slice(i, 8)), Vector512.Create(s.Slice(i + 8, 8))).CopyTo(d.Slice(i, 16));
            }
        }
        for (; i < n; i++) dst[i] = ConvertElement<TIn, TOut>(src[i]);
    }

    /// <summary>The scalar specification of Cast for one element (see <see cref="Cast{TOut}(Tensor)"/> for the rules).</summary>
    public static TOut ConvertElement<TIn, TOut>(TIn v) where TIn : unmanaged where TOut : unmanaged
    {
        if (typeof(TIn) == typeof(TOut)) return Unsafe.As<TIn, TOut>(ref v);
        if (typeof(TIn) == typeof(float)) return FromFloat<TOut>(Unsafe.As<TIn, float>(ref v));
        if (typeof(TIn) == typeof(double)) return FromDouble<TOut>(Unsafe.As<TIn, double>(ref v));
        if (typeof(TIn) == typeof(bool)) return FromLong<TOut>(Unsafe.As<TIn, bool>(ref v) ? 1 : 0);
        if (typeof(TIn) == typeof(sbyte)) return FromLong<TOut>(Unsafe.As<TIn, sbyte>(ref v));
        if (typeof(TIn) == typeof(byte)) return FromLong<TOut>(Unsafe.As<TIn, byte>(ref v));
        if (typeof(TIn) == typeof(short)) return FromLong<TOut>(Unsafe.As<TIn, short>(ref v));
        if (typeof(TIn) == typeof(ushort)) return FromLong<TOut>(Unsafe.As<TIn, ushort>(ref v));
        if (typeof(TIn) == typeof(int)) return FromLong<TOut>(Unsafe.As<TIn, int>(ref v));
        if (typeof(TIn) == typeof(long)) return FromLong<TOut>(Unsafe.As<TIn, long>(ref v));
        throw new NotSupportedException($"Cast: element type {typeof(TIn).Name} is not supported");
    }

    private static TOut FromFloat<TOut>(float f) where TOut : unmanaged
    {
        if (typeof(TOut) == typeof(double)) { double d = f; return Unsafe.As<double, TOut>(ref d); }
        if (typeof(TOut) == typeof(int)) { int r = (int)f; return Unsafe.As<int, TOut>(ref r); }
        return FromDouble<TOut>(f); // float → double is exact, so every other target sees the same value.
    }

    private static TOut FromDouble<TOut>(double d) where TOut : unmanaged
    {
        // .NET (9+) conversions to int/long truncate, saturate and map NaN to 0; for the narrower types .NET goes
        // through int32 and wraps, so those are clamped first (NaN passes Clamp and then becomes 0).
        if (typeof(TOut) == typeof(float)) { float r = (float)d; return Unsafe.As<float, TOut>(ref r); }
        if (typeof(TOut) == typeof(double)) return Unsafe.As<double, TOut>(ref d);
        if (typeof(TOut) == typeof(sbyte)) { sbyte r = (sbyte)Math.Clamp(d, sbyte.MinValue, sbyte.MaxValue); return Unsafe.As<sbyte, TOut>(ref r); }
        if (typeof(TOut) == typeof(byte)) { byte r = (byte)Math.Clamp(d, byte.MinValue, byte.MaxValue); return Unsafe.As<byte, TOut>(ref r); }
        if (typeof(TOut) == typeof(short)) { short r = (short)Math.Clamp(d, short.MinValue, short.MaxValue); return Unsafe.As<short, TOut>(ref r); }
        if (typeof(TOut) == typeof(ushort)) { ushort r = (ushort)Math.Clamp(d, ushort.MinValue, ushort.MaxValue); return Unsafe.As<ushort, TOut>(ref r); }
        if (typeof(TOut) == typeof(int)) { int r = (int)d; return Unsafe.As<int, TOut>(ref r); }
        if (typeof(TOut) == typeof(long)) { long r = (long)d; return Unsafe.As<long, TOut>(ref r); }
        if (typeof(TOut) == typeof(bool)) { bool r = d != 0; return Unsafe.As<bool, TOut>(ref r); }
        throw new NotSupportedException($"Cast: element type {typeof(TOut).Name} is not supported");
    }

    private static TOut FromLong<TOut>(long v) where TOut : unmanaged
    {
        unchecked
        {
            if (typeof(TOut) == typeof(float)) { float r = v; return Unsafe.As<float, TOut>(ref r); }
            if (typeof(TOut) == typeof(double)) { double r = v; return Unsafe.As<double, TOut>(ref r); }
            if (typeof(TOut) == typeof(sbyte)) { sbyte r = (sbyte)v; return Unsafe.As<sbyte, TOut>(ref r); }
            if (typeof(TOut) == typeof(byte)) { byte r = (byte)v; return Unsafe.As<byte, TOut>(ref r); }
            if (typeof(TOut) == typeof(short)) { short r = (short)v; return Unsafe.As<short, TOut>(ref r); }
            if (typeof(TOut) == typeof(ushort)) { ushort r = (ushort)v; return Unsafe.As<ushort, TOut>(ref r); }
            if (typeof(TOut) == typeof(int)) { int r = (int)v; return Unsafe.As<int, TOut>(ref r); }
            if (typeof(TOut) == typeof(long)) return Unsafe.As<long, TOut>(ref v);
            if (typeof(TOut) == typeof(bool)) { bool r = v != 0; return Unsafe.As<bool, TOut>(ref r); }
        }
        throw new NotSupportedException($"Cast: element type {typeof(TOut).Name} is not supported");
    }
}
