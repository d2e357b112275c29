using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine;

public static partial class TensorOps
{
    /// <summary>
    /// ONNX <c>Transpose</c>: <c>y[i₀,…,i_(r−1)]</c> with <c>y.shape[k] = x.shape[perm[k]]</c> and
    /// <c>y[…, i_k, …] = x[…, i at position perm[k] = i_k, …]</c>; the default <paramref name="perm"/> reverses the axes.
    /// </summary>
    /// <remarks>
    /// Size-1 axes are dropped and input axes that stay adjacent in the output are merged first, so e.g.
    /// NCHW→NHWC becomes N transposes of a [C, H·W] matrix and swapping the last two axes becomes a batch
    /// of matrix transposes. A permutation that keeps the innermost axis is a set of contiguous run copies;
    /// any other is a strided matrix transpose (input axis that becomes innermost × input's innermost axis)
    /// repeated over the remaining axes, run as 64×64 cache tiles with 8×8 AVX register transposes for
    /// 4-byte elements (output rows at power-of-two strides are staged through an L1 buffer), in parallel
    /// over tiles. Every path is bit-exact with <see cref="TensorOpsReference.Transpose{T}"/>.
    /// </remarks>
    public static Tensor<T> Transpose<T>(Tensor<T> x, int[]? perm = null) where T : unmanaged
    {
        var y = new Tensor<T>(TransposeShape(x.Dims, perm));
        TransposeInto(x, y, perm);
        return y;
    }

    /// <summary>Output shape of <see cref="Transpose{T}"/>: <c>shape[perm[k]]</c> (perm validated; null = reversed).</summary>
    public static int[] TransposeShape(ReadOnlySpan<int> shape, int[]? perm = null)
    {
        var p = CheckPerm(perm, shape.Length);
        var outShape = new int[shape.Length];
        for (int i = 0; i < outShape.Length; i++) outShape[i] = shape[p[i]];
        return outShape;
    }

    /// <summary>
    /// <see cref="Transpose{T}"/> into a preallocated <paramref name="y"/> of shape <see cref="TransposeShape"/>
    /// (for callers that reuse buffers); <paramref name="y"/> must not share data with <paramref name="x"/>.
    /// </summary>
    public static void TransposeInto<T>(Tensor<T> x, Tensor<T> y, int[]? perm = null) where T : unmanaged
    {
        int rank = x.Rank;
        var p = CheckPerm(perm, rank);
        var outShape = TransposeShape(x.Dims, p);
        Check.SameShape("Transpose", "output", outShape, y.Dims);
        Check.That(!ReferenceEquals(x.Data, y.Data) || x.Length <= 1, "Transpose", "output", "a buffer distinct from the input", "the input's own data");
        if (y.Length == 0) return;

        // Reduce: drop size-1 input axes, then merge input axes a, a+1 that are adjacent in the output.
        var keep = new List<int>();
        foreach (int a in p) if (x.Dims[a] != 1) keep.Add(a);
        var groups = new List<List<int>>();
        foreach (int a in keep)
        {
            if (groups.Count > 0 && groups[^1][^1] < a && AllOnesBetween(x.Dims, groups[^1][^1], a)) groups[^1].Add(a);
            else groups.Add([a]);
        }
        // Reduced input axes are the groups ordered by their first input axis.
        var order = Enumerable.Range(0, groups.Count).OrderBy(g => groups[g][0]).ToArray();
        int rr = groups.Count;
        var rdims = new int[rr];
        var rperm = new int[rr];
        for (int j = 0; j < rr; j++)
        {
            long size = 1;
            foreach (int a in groups[order[j]]) size *= x.Dims[a];
            rdims[j] = (int)size;
        }
        for (int k = 0; k < rr; k++) rperm[k] = Array.IndexOf(order, k);

        bool identity = true;
        for (int k = 0; k < rr; k++) identity &= rperm[k] == k;
        if (identity) { x.AsSpan().CopyTo(y.AsSpan()); return; }

        var inStrides = Strided.Strides(rdims);
        var dims = new int[rr];
        var srcStrides = new long[rr];
        for (int k = 0; k < rr; k++) { dims[k] = rdims[rperm[k]]; srcStrides[k] = inStrides[rperm[k]]; }
        var outStrides = Strided.Strides(dims);
        if (rperm[rr - 1] == rr - 1)
        {
            // The innermost axis stays innermost: contiguous run copies.
            Strided.Copy(x.Data, 0, srcStrides, y.Data, 0, outStrides, dims);
            return;
        }

        // Otherwise the plane (input axis a = output's innermost) × (input's innermost axis, at output position q) is a
        // matrix transpose; every other axis is an outer loop. NCHW↔NHWC and last-two swaps have one outer axis.
        int axisA = rperm[rr - 1], q = Array.IndexOf(rperm, rr - 1);
        var outerDims = new List<int>();
        var outerSrc = new List<long>();
        var outerDst = new List<long>();
        for (int k = 0; k < rr; k++)
        {
            if (k == q || k == rr - 1) continue;
            outerDims.Add(dims[k]); outerSrc.Add(srcStrides[k]); outerDst.Add(outStrides[k]);
        }
        var plane = new TransposePlane(rdims[axisA], rdims[rr - 1], inStrides[axisA], outStrides[q],
            outerDims.ToArray(), outerSrc.ToArray(), outerDst.ToArray());
        TransposeTiled(x.Data, y.Data, plane);
    }

    /// <summary>The inverse of a permutation: <c>inv[perm[k]] = k</c> (the gradient of Transpose is Transpose by it).</summary>
    public static int[] InversePermutation(ReadOnlySpan<int> perm)
    {
        var inv = new int[perm.Length];
        for (int k = 0; k < perm.Length; k++) inv[perm[k]] = k;
        return inv;
    }

    /// <summary>Validates <paramref name="perm"/> (null = reversed axes) as a permutation of [0, rank).</summary>
    internal static int[] CheckPerm(int[]? perm, int rank)
    {
        if (perm is null)
        {
            var r = new int[rank];
            for (int i = 0; i < rank; i++) r[i] = rank - 1 - i;
            return r;
        }
        var seen = new bool[rank];
        bool ok = perm.Length == rank;
        if (ok)
            foreach (int a in perm)
            {
                if (a < 0 || a >= rank || seen[a]) { ok = false; break; }
                seen[a] = true;
            }
        Check.That(ok, "Transpose", "perm", $"a permutation of [0..{rank - 1}] (input rank {rank})", Format(perm));
        return (int[])perm.Clone();
    }

    private static bool AllOnesBetween(ReadOnlySpan<int> dims, int a, int b)
    {
        for (int i = a + 1; i < b; i++) if (dims[i] != 1) return false;
        return true;
    }

    private const int TileSize = 64;
    // Buffer rows are padded past 64 floats so buffer stores and source loads do not alias modulo 4 KiB.
    private const int BufferLd = TileSize + 8;

    /// <summary>
    /// A strided matrix transpose repeated over outer axes: for every outer index o, the source matrix
    /// <c>src[srcOff(o) + r·SrcLd + c]</c> (Rows × Cols) goes to <c>dst[dstOff(o) + c·DstLd + r]</c>.
    /// </summary>
    private sealed record TransposePlane(int Rows, int Cols, long SrcLd, long DstLd, int[] OuterDims, long[] OuterSrc, long[] OuterDst)
    {
        public void Offsets(long outer, out long src, out long dst)
        {
            src = 0; dst = 0;
            for (int k = OuterDims.Length - 1; k >= 0; k--)
            {
                long i = outer % OuterDims[k];
                outer /= OuterDims[k];
                src += i * OuterSrc[k];
                dst += i * OuterDst[k];
            }
        }
    }

    /// <summary>Runs a <see cref="TransposePlane"/> as 64×64 tiles, in parallel over (outer index, tile).</summary>
    private static void TransposeTiled<T>(T[] src, T[] dst, TransposePlane plan) where T : unmanaged
    {
        int rows = plan.Rows, cols = plan.Cols;
        int tr = (rows + TileSize - 1) / TileSize, tc = (cols + TileSize - 1) / TileSize;
        long outer = 1;
        foreach (int d in plan.OuterDims) outer *= d;
        long tiles = outer * tr * tc;
        int grain = Math.Max(1, (1 << 15) / (TileSize * TileSize));
        bool vector = Unsafe.SizeOf<T>() == 4 && Avx.IsSupported;
        // Output rows a multiple of 1 KiB apart map the tile's partial-line writes to a few cache sets (conflict
        // misses, 2-3x slower measured at 4096x4096); those go through the buffered tile, the rest write directly.
        bool buffered = vector && plan.DstLd % 256 == 0;
        void Body(int start, int end)
        {
            Span<float> buffer = buffered ? stackalloc float[TileSize * BufferLd] : default;
            for (int t = start; t < end; t++)
            {
                long o = t / (tr * tc);
                int rem = (int)(t % (tr * tc));
                int r0 = rem / tc * TileSize, c0 = rem % tc * TileSize;
                int h = Math.Min(TileSize, rows - r0), w = Math.Min(TileSize, cols - c0);
                plan.Offsets(o, out long so, out long dO);
                if (buffered && h % 8 == 0 && w % 8 == 0)
                    TransposeTileBuffered(ref Unsafe.As<T, float>(ref MemoryMarshal.GetArrayDataReference(src)),
                        ref Unsafe.As<T, float>(ref MemoryMarshal.GetArrayDataReference(dst)), so, plan.SrcLd, dO, plan.DstLd,
                        r0, h, c0, w, ref MemoryMarshal.GetReference(buffer));
                else
                    TransposeTile(src, dst, so, plan.SrcLd, dO, plan.DstLd, r0, h, c0, w);
            }
        }
        Check.That(tiles <= int.MaxValue, "Transpose", "x", $"at most {int.MaxValue} tiles", tiles.ToString());
        if (outer * rows * cols >= 1 << 16) Work.For((int)tiles, grain, Body);
        else Body(0, (int)tiles);
    }

    /// <summary>
    /// A 4-byte tile whose sides are multiples of 8: 8×8 register transposes into an L1-resident buffer, then each
    /// output row leaves as one contiguous run. Writing whole runs avoids the conflict misses of scattering partial
    /// cache lines at a power-of-two output stride.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeTileBuffered(ref float src, ref float dst, long srcOff, long srcLd, long dstOff, long dstLd,
        int r0, int h, int c0, int w, ref float buf)
    {
        ref float s = ref Unsafe.Add(ref src, (nint)srcOff);
        ref float d = ref Unsafe.Add(ref dst, (nint)dstOff);
        for (int i = 0; i < h; i += 8)
            for (int j = 0; j < w; j += 8)
                Transpose8x8(ref Unsafe.Add(ref s, (nint)((r0 + i) * srcLd) + c0 + j), (int)srcLd, ref Unsafe.Add(ref buf, j * BufferLd + i), BufferLd);
        for (int j = 0; j < w; j++)
            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref buf, j * BufferLd), h)
                .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref d, (nint)((c0 + j) * dstLd) + r0), h));
    }

    /// <summary>Transposes the block rows [r0, r0+h) × cols [c0, c0+w) of one strided matrix (see <see cref="TransposePlane"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeTile<T>(T[] src, T[] dst, long srcOff, long srcLd, long dstOff, long dstLd, int r0, int h, int c0, int w) where T : unmanaged
    {
        ref T s = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(src), (nint)srcOff);
        ref T d = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(dst), (nint)dstOff);
        nint cols = (nint)srcLd, rows = (nint)dstLd;
        int i = 0;
        if (Unsafe.SizeOf<T>() == 4 && Avx.IsSupported)
        {
            ref float sf = ref Unsafe.As<T, float>(ref s);
            ref float df = ref Unsafe.As<T, float>(ref d);
            for (; i <= h - 8; i += 8)
            {
                int j = 0;
                for (; j <= w - 8; j += 8)
                    Transpose8x8(ref Unsafe.Add(ref sf, (r0 + i) * cols + c0 + j), (int)cols,
                                 ref Unsafe.Add(ref df, (c0 + j) * rows + r0 + i), (int)rows);
                for (; j < w; j++)
                    for (int ii = i; ii < i + 8; ii++)
                        Unsafe.Add(ref df, (c0 + j) * rows + r0 + ii) = Unsafe.Add(ref sf, (r0 + ii) * cols + c0 + j);
            }
        }
        // Remaining rows (or every row for other element sizes): column-major walk over the tile so writes are sequential.
        for (int j = 0; j < w; j++)
        {
            ref T dcol = ref Unsafe.Add(ref d, (c0 + j) * rows + r0);
            for (int ii = i; ii < h; ii++)
                Unsafe.Add(ref dcol, ii) = Unsafe.Add(ref s, (r0 + ii) * cols + c0 + j);
        }
    }

    /// <summary>In-register transpose of an 8×8 float block (unpack, shuffle, 128-bit lane permute).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(ref float s, int ls, ref float d, int ld)
    {
        var r0 = Vector256.LoadUnsafe(ref s);
        var r1 = Vector256.LoadUnsafe(ref s, (nuint)ls);
        var r2 = Vector256.LoadUnsafe(ref s, (nuint)(2 * ls));
        var r3 = Vector256.LoadUnsafe(ref s, (nuint)(3 * ls));
        var r4 = Vector256.LoadUnsafe(ref s, (nuint)(4 * ls));
        var r5 = Vector256.LoadUnsafe(ref s, (nuint)(5 * ls));
        var r6 = Vector256.LoadUnsafe(ref s, (nuint)(6 * ls));
        var r7 = Vector256.LoadUnsafe(ref s, (nuint)(7 * ls));
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref d);
        Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref d, (nuint)ld);
        Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref d, (nuint)(2 * ld));
        Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref d, (nuint)(3 * ld));
        Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref d, (nuint)(4 * ld));
        Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref d, (nuint)(5 * ld));
        Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref d, (nuint)(6 * ld));
        Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref d, (nuint)(7 * ld));
    }
}
