using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine;

/// <summary>
/// The one data-movement engine under the manipulation ops: copies (or accumulates) an n-dimensional
/// strided view into another strided view, run by run.
/// </summary>
/// <remarks>
/// For every multi-index i over <c>shape</c>: <c>dst[dstOffset + Σ iₖ·dstStrides[k]] = src[srcOffset + Σ iₖ·srcStrides[k]]</c>.
/// Dimensions of size 1 are dropped and adjacent dimensions that are contiguous in both views are merged,
/// so a slice of whole rows becomes one <see cref="Span{T}.CopyTo"/>; the innermost dimension is a
/// contiguous run copy when both strides are 1, a fill when the source stride is 0 (broadcast), and an
/// element loop otherwise. Strides may be negative (reversed slices) or zero (broadcast source).
/// </remarks>
internal static class Strided
{
    /// <summary>Minimum elements per parallel block.</summary>
    private const int Grain = 1 << 15;

    /// <summary>Copies <c>shape</c> elements from the source view to the destination view (see the class remarks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Copy<T>(T[] src, long srcOffset, ReadOnlySpan<long> srcStrides,
        T[] dst, long dstOffset, ReadOnlySpan<long> dstStrides, ReadOnlySpan<int> shape, bool parallel = true) where T : unmanaged
    {
        if (!Simplify(shape, srcStrides, dstStrides, out var dims, out var ss, out var ds)) return;
        int rank = dims.Length;
        if (rank == 0) { dst[dstOffset] = src[srcOffset]; return; }
        int inner = dims[rank - 1];
        long sIn = ss[rank - 1], dIn = ds[rank - 1];
        long outer = 1;
        for (int k = 0; k < rank - 1; k++) outer *= dims[k];
        int outerCount = (int)outer;
        int grain = Math.Max(1, Grain / Math.Max(inner, 1));

        void Body(int start, int end)
        {
            Span<int> idx = stackalloc int[Math.Max(rank - 1, 1)];
            long so = srcOffset, dO = dstOffset;
            // Decompose the first outer index once; then step the odometer.
            long rem = start;
            for (int k = rank - 2; k >= 0; k--)
            {
                idx[k] = (int)(rem % dims[k]); rem /= dims[k];
                so += idx[k] * ss[k]; dO += idx[k] * ds[k];
            }
            ref T s0 = ref MemoryMarshal.GetArrayDataReference(src);
            ref T d0 = ref MemoryMarshal.GetArrayDataReference(dst);
            for (int o = start; o < end; o++)
            {
                if (sIn == 1 && dIn == 1)
                    MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref s0, (nint)so), inner)
                        .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref d0, (nint)dO), inner));
                else if (sIn == 0 && dIn == 1)
                    MemoryMarshal.CreateSpan(ref Unsafe.Add(ref d0, (nint)dO), inner).Fill(Unsafe.Add(ref s0, (nint)so));
                else
                {
                    nint sp = (nint)so, dp = (nint)dO;
                    for (int i = 0; i < inner; i++, sp += (nint)sIn, dp += (nint)dIn)
                        Unsafe.Add(ref d0, dp) = Unsafe.Add(ref s0, sp);
                }
                for (int k = rank - 2; k >= 0; k--)
                {
                    so += ss[k]; dO += ds[k];
                    if (++idx[k] < dims[k]) break;
                    so -= ss[k] * dims[k]; dO -= ds[k] * dims[k];
                    idx[k] = 0;
                }
            }
        }

        CheckBounds(src.Length, srcOffset, ss, dims, "source");
        CheckBounds(dst.Length, dstOffset, ds, dims, "destination");
        if (parallel && outerCount < Work.Threads && sIn == 1 && dIn == 1 && inner >= 8 * Grain)
        {
            // A few very long runs (e.g. Concat on axis 0): split each run across cores instead.
            for (int o = 0; o < outerCount; o++)
            {
                long rem = o, so = srcOffset, dO = dstOffset;
                for (int k = rank - 2; k >= 0; k--)
                {
                    long i = rem % dims[k];
                    rem /= dims[k];
                    so += i * ss[k]; dO += i * ds[k];
                }
                long sBase = so, dBase = dO;
                Work.For(inner, Grain, (a, b) => src.AsSpan((int)(sBase + a), b - a).CopyTo(dst.AsSpan((int)(dBase + a), b - a)));
            }
            return;
        }
        if (parallel && (long)outerCount * inner >= 2 * Grain) Work.For(outerCount, grain, Body);
        else Body(0, outerCount);
    }

    /// <summary>
    /// Adds the source view into the destination view: <c>dst[view] += src[view]</c>. Destination strides
    /// may be zero (several source elements sum into one), so this runs on one thread.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate(float[] src, long srcOffset, ReadOnlySpan<long> srcStrides,
        float[] dst, long dstOffset, ReadOnlySpan<long> dstStrides, ReadOnlySpan<int> shape)
    {
        if (!Simplify(shape, srcStrides, dstStrides, out var dims, out var ss, out var ds)) return;
        int rank = dims.Length;
        if (rank == 0) { dst[dstOffset] += src[srcOffset]; return; }
        CheckBounds(src.Length, srcOffset, ss, dims, "source");
        CheckBounds(dst.Length, dstOffset, ds, dims, "destination");
        int inner = dims[rank - 1];
        long sIn = ss[rank - 1], dIn = ds[rank - 1];
        long outer = 1;
        for (int k = 0; k < rank - 1; k++) outer *= dims[k];
        Span<int> idx = stackalloc int[Math.Max(rank - 1, 1)];
        idx.Clear();
        long so = srcOffset, dO = dstOffset;
        for (long o = 0; o < outer; o++)
        {
            if (sIn == 1 && dIn == 1)
                AddRun(src.AsSpan((int)so, inner), dst.AsSpan((int)dO, inner));
            else if (sIn == 1 && dIn == 0)
                dst[dO] += SumRun(src.AsSpan((int)so, inner));
            else
            {
                long sp = so, dp = dO;
                for (int i = 0; i < inner; i++, sp += sIn, dp += dIn) dst[dp] += src[sp];
            }
            for (int k = rank - 2; k >= 0; k--)
            {
                so += ss[k]; dO += ds[k];
                if (++idx[k] < dims[k]) break;
                so -= ss[k] * dims[k]; dO -= ds[k] * dims[k];
                idx[k] = 0;
            }
        }
    }

    /// <summary><c>d[i] += s[i]</c>, vectorized.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AddRun(ReadOnlySpan<float> s, Span<float> d)
    {
        int i = 0, n = d.Length;
        ref float sr = ref MemoryMarshal.GetReference(s);
        ref float dr = ref MemoryMarshal.GetReference(d);
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref dr, (nuint)i) + Vector512.LoadUnsafe(ref sr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
        else
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref dr, (nuint)i) + Vector256.LoadUnsafe(ref sr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref dr, i) += Unsafe.Add(ref sr, i);
    }

    /// <summary>Sum of a run (vector partial sums, then the tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float SumRun(ReadOnlySpan<float> s)
    {
        int i = 0, n = s.Length;
        ref float sr = ref MemoryMarshal.GetReference(s);
        float total = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16) acc += Vector512.LoadUnsafe(ref sr, (nuint)i);
            total = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc += Vector256.LoadUnsafe(ref sr, (nuint)i);
            total = Vector256.Sum(acc);
        }
        for (; i < n; i++) total += Unsafe.Add(ref sr, i);
        return total;
    }

    /// <summary>Row-major strides as longs.</summary>
    public static long[] Strides(ReadOnlySpan<int> shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    /// <summary>Drops size-1 dimensions and merges dimensions contiguous in both views; false when the view is empty.</summary>
    private static bool Simplify(ReadOnlySpan<int> shape, ReadOnlySpan<long> srcStrides, ReadOnlySpan<long> dstStrides,
        out int[] dims, out long[] ss, out long[] ds)
    {
        var d = new List<int>(shape.Length);
        var a = new List<long>(shape.Length);
        var b = new List<long>(shape.Length);
        for (int k = 0; k < shape.Length; k++)
        {
            if (shape[k] == 0) { dims = []; ss = []; ds = []; return false; }
            if (shape[k] == 1) continue;
            int last = d.Count - 1;
            if (last >= 0 && a[last] == srcStrides[k] * shape[k] && b[last] == dstStrides[k] * shape[k])
            {
                d[last] *= shape[k]; a[last] = srcStrides[k]; b[last] = dstStrides[k];
            }
            else { d.Add(shape[k]); a.Add(srcStrides[k]); b.Add(dstStrides[k]); }
        }
        dims = d.ToArray(); ss = a.ToArray(); ds = b.ToArray();
        return true;
    }

    /// <summary>Guards the unchecked inner loops: the view's lowest and highest element must lie in the array.</summary>
    private static void CheckBounds(int length, long offset, long[] strides, int[] dims, string which)
    {
        long lo = offset, hi = offset;
        for (int k = 0; k < dims.Length; k++)
        {
            long span = strides[k] * (dims[k] - 1);
            if (span < 0) lo += span; else hi += span;
        }
        if (lo < 0 || hi >= length)
            throw new InvalidOperationException($"Strided copy: {which} view [{lo}, {hi}] outside an array of {length} elements (internal error)");
    }
}
