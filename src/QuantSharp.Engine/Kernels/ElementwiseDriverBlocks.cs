using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Kernels.Operators;

namespace QuantSharp.Engine.Kernels;

// Serial contiguous block kernels of the driver. `width` is 512, 256 or 0 so tests can run every path on
// any machine; the public entry points pass BestWidth. The tail always uses the scalar Invoke.
public static unsafe partial class ElementwiseDriver
{
    /// <summary>y[i] = op(x[i]), i &lt; n, serially with vectors of <paramref name="width"/> bits.</summary>
    /// <remarks>
    /// Each width has its own method so the JIT's per-method inlining budget covers every copy of a heavy
    /// operator body (erf, gelu); loops are unrolled 2× only, which is enough for memory-bound work.
    /// </remarks>
    internal static void UnaryBlock<TOp>(TOp op, float* x, float* y, nint n, int width) where TOp : struct, IUnaryOperator
    {
        nint i = width == 512 ? Unary512(op, x, y, n) : width == 256 ? Unary256(op, x, y, n) : 0;
        for (; i < n; i++) y[i] = op.Invoke(x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint Unary512<TOp>(TOp op, float* x, float* y, nint n) where TOp : struct, IUnaryOperator
    {
        nint i = 0;
        if (n >= NonTemporalThreshold && x != y)
        {
            for (; i < n && ((nint)(y + i) & 63) != 0; i++) y[i] = op.Invoke(x[i]);
            for (; i <= n - 16; i += 16) Vector512.StoreAlignedNonTemporal(op.Invoke(Vector512.Load(x + i)), y + i);
            return i;
        }
        for (; i <= n - 32; i += 32)
        {
            var v0 = op.Invoke(Vector512.Load(x + i)); var v1 = op.Invoke(Vector512.Load(x + i + 16));
            v0.Store(y + i); v1.Store(y + i + 16);
        }
        for (; i <= n - 16; i += 16) op.Invoke(Vector512.Load(x + i)).Store(y + i);
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint Unary256<TOp>(TOp op, float* x, float* y, nint n) where TOp : struct, IUnaryOperator
    {
        nint i = 0;
        for (; i <= n - 16; i += 16)
        {
            var v0 = op.Invoke(Vector256.Load(x + i)); var v1 = op.Invoke(Vector256.Load(x + i + 8));
            v0.Store(y + i); v1.Store(y + i + 8);
        }
        for (; i <= n - 8; i += 8) op.Invoke(Vector256.Load(x + i)).Store(y + i);
        return i;
    }

    /// <summary>o[i] = op(a[i], b[i]), i &lt; n.</summary>
    internal static void BinaryVV<TOp>(TOp op, float* a, float* b, float* o, nint n, int width) where TOp : struct, IBinaryOperator
    {
        nint i = width == 512 ? BinaryVV512(op, a, b, o, n) : width == 256 ? BinaryVV256(op, a, b, o, n) : 0;
        for (; i < n; i++) o[i] = op.Invoke(a[i], b[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint BinaryVV512<TOp>(TOp op, float* a, float* b, float* o, nint n) where TOp : struct, IBinaryOperator
    {
        nint i = 0;
        if (n >= NonTemporalThreshold && o != a && o != b)
        {
            for (; i < n && ((nint)(o + i) & 63) != 0; i++) o[i] = op.Invoke(a[i], b[i]);
            for (; i <= n - 16; i += 16) Vector512.StoreAlignedNonTemporal(op.Invoke(Vector512.Load(a + i), Vector512.Load(b + i)), o + i);
            return i;
        }
        for (; i <= n - 32; i += 32)
        {
            var v0 = op.Invoke(Vector512.Load(a + i), Vector512.Load(b + i));
            var v1 = op.Invoke(Vector512.Load(a + i + 16), Vector512.Load(b + i + 16));
            v0.Store(o + i); v1.Store(o + i + 16);
        }
        for (; i <= n - 16; i += 16) op.Invoke(Vector512.Load(a + i), Vector512.Load(b + i)).Store(o + i);
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint BinaryVV256<TOp>(TOp op, float* a, float* b, float* o, nint n) where TOp : struct, IBinaryOperator
    {
        nint i = 0;
        for (; i <= n - 16; i += 16)
        {
            var v0 = op.Invoke(Vector256.Load(a + i), Vector256.Load(b + i));
            var v1 = op.Invoke(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8));
            v0.Store(o + i); v1.Store(o + i + 8);
        }
        for (; i <= n - 8; i += 8) op.Invoke(Vector256.Load(a + i), Vector256.Load(b + i)).Store(o + i);
        return i;
    }

    /// <summary>o[i] = op(a[i], b), i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BinaryVS<TOp>(TOp op, float* a, float b, float* o, nint n, int width) where TOp : struct, IBinaryOperator
    {
        nint i = 0;
        if (width == 512)
        {
            var vb = Vector512.Create(b);
            for (; i <= n - 32; i += 32)
            {
                var v0 = op.Invoke(Vector512.Load(a + i), vb); var v1 = op.Invoke(Vector512.Load(a + i + 16), vb);
                v0.Store(o + i); v1.Store(o + i + 16);
            }
            for (; i <= n - 16; i += 16) op.Invoke(Vector512.Load(a + i), vb).Store(o + i);
        }
        else if (width == 256)
        {
            var vb = Vector256.Create(b);
            for (; i <= n - 8; i += 8) op.Invoke(Vector256.Load(a + i), vb).Store(o + i);
        }
        for (; i < n; i++) o[i] = op.Invoke(a[i], b);
    }

    /// <summary>o[i] = op(a, b[i]), i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BinarySV<TOp>(TOp op, float a, float* b, float* o, nint n, int width) where TOp : struct, IBinaryOperator
    {
        nint i = 0;
        if (width == 512)
        {
            var va = Vector512.Create(a);
            for (; i <= n - 32; i += 32)
            {
                var v0 = op.Invoke(va, Vector512.Load(b + i)); var v1 = op.Invoke(va, Vector512.Load(b + i + 16));
                v0.Store(o + i); v1.Store(o + i + 16);
            }
            for (; i <= n - 16; i += 16) op.Invoke(va, Vector512.Load(b + i)).Store(o + i);
        }
        else if (width == 256)
        {
            var va = Vector256.Create(a);
            for (; i <= n - 8; i += 8) op.Invoke(va, Vector256.Load(b + i)).Store(o + i);
        }
        for (; i < n; i++) o[i] = op.Invoke(a, b[i]);
    }

    // Bit i of the index → byte i of the value is 0 or 1: turns a comparison mask's sign bits into 8 bools.
    private static readonly ulong[] BitsToBools = CreateBitsToBools();

    private static ulong[] CreateBitsToBools()
    {
        var t = new ulong[256];
        for (int k = 0; k < 256; k++)
            for (int j = 0; j < 8; j++)
                if ((k >> j & 1) != 0) t[k] |= 1UL << (8 * j);
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMask(Vector512<float> m, bool* o, ulong[] lut)
    {
        uint bits = (uint)m.ExtractMostSignificantBits();
        *(ulong*)o = lut[bits & 255];
        *(ulong*)(o + 8) = lut[bits >> 8];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMask(Vector256<float> m, bool* o, ulong[] lut) => *(ulong*)o = lut[m.ExtractMostSignificantBits()];

    /// <summary>o[i] = pred(a[i], b[i]), i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CompareVV<TP>(TP pred, float* a, float* b, bool* o, nint n, int width) where TP : struct, IBinaryPredicate
    {
        nint i = 0;
        var lut = BitsToBools;
        if (width == 512)
            for (; i <= n - 16; i += 16) StoreMask(pred.Invoke(Vector512.Load(a + i), Vector512.Load(b + i)), o + i, lut);
        else if (width == 256)
            for (; i <= n - 8; i += 8) StoreMask(pred.Invoke(Vector256.Load(a + i), Vector256.Load(b + i)), o + i, lut);
        for (; i < n; i++) o[i] = pred.Invoke(a[i], b[i]);
    }

    /// <summary>o[i] = pred(a[i], b), i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CompareVS<TP>(TP pred, float* a, float b, bool* o, nint n, int width) where TP : struct, IBinaryPredicate
    {
        nint i = 0;
        var lut = BitsToBools;
        if (width == 512)
        {
            var vb = Vector512.Create(b);
            for (; i <= n - 16; i += 16) StoreMask(pred.Invoke(Vector512.Load(a + i), vb), o + i, lut);
        }
        else if (width == 256)
        {
            var vb = Vector256.Create(b);
            for (; i <= n - 8; i += 8) StoreMask(pred.Invoke(Vector256.Load(a + i), vb), o + i, lut);
        }
        for (; i < n; i++) o[i] = pred.Invoke(a[i], b);
    }

    /// <summary>o[i] = pred(a, b[i]), i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CompareSV<TP>(TP pred, float a, float* b, bool* o, nint n, int width) where TP : struct, IBinaryPredicate
    {
        nint i = 0;
        var lut = BitsToBools;
        if (width == 512)
        {
            var va = Vector512.Create(a);
            for (; i <= n - 16; i += 16) StoreMask(pred.Invoke(va, Vector512.Load(b + i)), o + i, lut);
        }
        else if (width == 256)
        {
            var va = Vector256.Create(a);
            for (; i <= n - 8; i += 8) StoreMask(pred.Invoke(va, Vector256.Load(b + i)), o + i, lut);
        }
        for (; i < n; i++) o[i] = pred.Invoke(a, b[i]);
    }
}
