using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Kernels.Operators;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The reduction driver: reduces a tensor viewed as [outer, reduced, inner] to [outer, inner].
/// inner = 1 folds contiguous rows with vector accumulators (4 × 16 lanes) and a final lane fold;
/// inner &gt; 1 folds whole rows of length inner into the output row, vectorized along inner.
/// Parallel over outer blocks, over inner chunks when outer is small, or over chunks of the reduced
/// axis (partial results folded at the end) for a single long row.
/// </summary>
internal static unsafe class ReduceKernels
{
    private const int Grain = 1 << 15;

    public static void Run<TR>(TR op, float[] x, float[] y, int outer, int reduced, int inner, int width) where TR : struct, IReduceOperator
    {
        if (outer * inner == 0) return;
        if (reduced == 0) { Array.Fill(y, op.Identity, 0, outer * inner); return; }
        long total = (long)outer * reduced * inner;
        fixed (float* px0 = x, py0 = y)
        {
            nint ix = (nint)px0, iy = (nint)py0;
            if (total < ElementwiseDriver.ParallelThreshold)
            {
                Block(op, px0, py0, 0, outer, reduced, inner, 0, inner, width);
                return;
            }
            if (inner == 1 && outer < Work.Threads)
            {
                for (int o = 0; o < outer; o++) py0[o] = LongRow(op, px0 + (nint)o * reduced, reduced, width);
                return;
            }
            if (outer >= Work.Threads * 2 || inner < 256)
            {
                int grain = (int)Math.Max(1, Grain / Math.Max(1L, (long)reduced * inner));
                Work.For(outer, grain, (s, e) => Block(op, (float*)ix, (float*)iy, s, e, reduced, inner, 0, inner, width));
            }
            else
                Work.For(inner, 256, (s, e) => Block(op, (float*)ix, (float*)iy, 0, outer, reduced, inner, s, e, width));
        }
    }

    private static float LongRow<TR>(TR op, float* x, int n, int width) where TR : struct, IReduceOperator
    {
        int chunks = Math.Max(1, Math.Min(Work.Threads * 4, n / Grain));
        var partial = new float[chunks];
        nint ix = (nint)x;
        Work.For(chunks, 1, (s, e) =>
        {
            for (int c = s; c < e; c++)
            {
                int a = (int)((long)n * c / chunks), b = (int)((long)n * (c + 1) / chunks);
                partial[c] = Row(op, (float*)ix + a, b - a, width);
            }
        });
        float acc = partial[0];
        for (int c = 1; c < chunks; c++) acc = op.Combine(acc, partial[c]);
        return acc;
    }

    /// <summary>Reduces outer rows [o0, o1) and inner columns [i0, i1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Block<TR>(TR op, float* x, float* y, int o0, int o1, int reduced, int inner, int i0, int i1, int width)
        where TR : struct, IReduceOperator
    {
        if (inner == 1)
        {
            for (int o = o0; o < o1; o++) y[o] = Row(op, x + (nint)o * reduced, reduced, width);
            return;
        }
        for (int o = o0; o < o1; o++)
        {
            float* src = x + (nint)o * reduced * inner;
            float* dst = y + (nint)o * inner;
            Columns(op, src, dst, reduced, inner, i0, i1, width);
        }
    }

    /// <summary>Folds a contiguous row of n elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Row<TR>(TR op, float* x, nint n, int width) where TR : struct, IReduceOperator
    {
        nint i = 0;
        float acc = op.Identity;
        if (width == 512 && n >= 16)
        {
            var id = Vector512.Create(op.Identity);
            Vector512<float> a0 = id, a1 = id, a2 = id, a3 = id;
            for (; i <= n - 64; i += 64)
            {
                a0 = op.Combine(a0, op.Map(Vector512.Load(x + i)));
                a1 = op.Combine(a1, op.Map(Vector512.Load(x + i + 16)));
                a2 = op.Combine(a2, op.Map(Vector512.Load(x + i + 32)));
                a3 = op.Combine(a3, op.Map(Vector512.Load(x + i + 48)));
            }
            for (; i <= n - 16; i += 16) a0 = op.Combine(a0, op.Map(Vector512.Load(x + i)));
            var v = op.Combine(op.Combine(a0, a1), op.Combine(a2, a3));
            for (int k = 0; k < 16; k++) acc = op.Combine(acc, v.GetElement(k));
        }
        else if (width == 256 && n >= 8)
        {
            var id = Vector256.Create(op.Identity);
            Vector256<float> a0 = id, a1 = id;
            for (; i <= n - 16; i += 16)
            {
                a0 = op.Combine(a0, op.Map(Vector256.Load(x + i)));
                a1 = op.Combine(a1, op.Map(Vector256.Load(x + i + 8)));
            }
            for (; i <= n - 8; i += 8) a0 = op.Combine(a0, op.Map(Vector256.Load(x + i)));
            var v = op.Combine(a0, a1);
            for (int k = 0; k < 8; k++) acc = op.Combine(acc, v.GetElement(k));
        }
        for (; i < n; i++) acc = op.Combine(acc, op.Map(x[i]));
        return acc;
    }

    /// <summary>
    /// dst[j] = fold over r of map(src[r·inner + j]) for j in [j0, j1), walking rows in tiles of 2048 columns
    /// so every read is a long contiguous run and the destination tile stays in L1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Columns<TR>(TR op, float* src, float* dst, int reduced, int inner, int j0, int j1, int width)
        where TR : struct, IReduceOperator
    {
        const int Tile = 2048;
        for (int t0 = j0; t0 < j1; t0 += Tile)
        {
            int t1 = Math.Min(j1, t0 + Tile);
            for (int j = t0; j < t1; j++) dst[j] = op.Identity;
            for (int r = 0; r < reduced; r++)
            {
                float* row = src + (nint)r * inner;
                int j = t0;
                if (width == 512)
                    for (; j <= t1 - 16; j += 16) op.Combine(Vector512.Load(dst + j), op.Map(Vector512.Load(row + j))).Store(dst + j);
                else if (width == 256)
                    for (; j <= t1 - 8; j += 8) op.Combine(Vector256.Load(dst + j), op.Map(Vector256.Load(row + j))).Store(dst + j);
                for (; j < t1; j++) dst[j] = op.Combine(dst[j], op.Map(row[j]));
            }
        }
    }
}
