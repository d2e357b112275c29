using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The forward implicit-GEMM packer: op(B) is the im2col matrix of one padded image (K = C·KH·KW rows,
/// P = OH·OW columns), gathered straight into NR-wide k-major panels (see <see cref="IGemmBPacker"/>).
/// </summary>
/// <remarks>
/// <c>dest[kk·NR + j] = buffer[RowOffsets[k0 + kk] + PixelOffset(n0 + j)]</c> (see <see cref="ConvImplicitGemmLayout"/>).
/// In the phase-split buffer every stride is 1, so a run of NR output pixels that crosses at most one output-row
/// boundary, at j = t, is two contiguous runs: the cells at <c>src + j</c> for j &lt; t and at
/// <c>src + j + (Wq − OW)</c> for j ≥ t, and each panel row is two pairs of 512-bit loads and a select
/// (Vector256 without AVX-512). A panel over up to four output rows (narrow outputs, the last partial panel) is
/// built the same way from one masked load per row segment; wider spans use AVX2 gathers with the 32 pixel
/// offsets computed once per panel, or a scalar loop over them.
/// </remarks>
internal readonly unsafe struct ConvImplicitGemmPacker : IGemmBPacker
{
    private readonly ConvImplicitGemmLayout _layout;
    private readonly float* _x;
    private readonly bool _v512, _gather;

    /// <param name="layout">Geometry of the padded image.</param>
    /// <param name="paddedImage">The padded image (<see cref="ConvImplicitGemmLayout.Pad"/>), with its slack.</param>
    /// <param name="portable">Force the path of machines without AVX-512 or AVX2 (Vector256 runs, scalar gathers); tests compare both.</param>
    public ConvImplicitGemmPacker(ConvImplicitGemmLayout layout, float* paddedImage, bool portable = false)
    {
        _layout = layout;
        _x = paddedImage;
        _v512 = !portable && Vector512.IsHardwareAccelerated && Avx512F.IsSupported;
        _gather = !portable && Avx2.IsSupported;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int k0, int kc, int n0, int nc, float* dest)
    {
        const int nr = Gemm.NR;
        var L = _layout;
        fixed (int* rows = L.RowOffsets)
        {
            int* rowOff = rows + k0;
            int* offsets = stackalloc int[nr];
            int* runs = stackalloc int[2 * MaxRuns + 1];
            Vector512<float>* masks = stackalloc Vector512<float>[2 * MaxRuns];
            for (int j0 = 0; j0 < nc; j0 += nr)
            {
                int w = Math.Min(nr, nc - j0);
                int p0 = n0 + j0;
                float* d = dest + (long)j0 * kc;
                int oh0 = p0 / L.OW, ow0 = p0 - oh0 * L.OW;
                int t = L.OW - ow0; // first column of the panel that lies on the next output row
                if (_v512 && (w < nr || nr - t > L.OW) && MultiRuns(L, _x, rowOff, kc, oh0, ow0, w, d, runs, masks)) continue;
                if (w == nr && nr - t <= L.OW)
                {
                    float* src = _x + oh0 * L.RowStep + ow0;
                    if (t >= nr) ContiguousRun(rowOff, kc, src, d, _v512);
                    else TwoRuns(rowOff, kc, src, L.RowStep - L.OW, t, d, _v512);
                    continue;
                }
                for (int j = 0; j < nr; j++) offsets[j] = j < w ? L.PixelOffset(p0 + j) : 0;
                if (_gather) Gather(_x, rowOff, kc, offsets, w, d);
                else ScalarGather(_x, rowOff, kc, offsets, w, d);
            }
        }
    }

    /// <summary>Most row segments a panel may span and still be packed by <see cref="MultiRuns"/> rather than gathers.</summary>
    private const int MaxRuns = 4;

    /// <summary>
    /// A panel (possibly partial, w columns) spanning up to <see cref="MaxRuns"/> output rows: segment r covers columns
    /// [start_r, start_(r+1)) and reads <c>src + base_r + j</c>, so each panel row is one masked select of a contiguous
    /// 16-float load per segment and half panel; columns past w are 0. Returns false (nothing written) for more segments.
    /// <paramref name="runs"/> (2·MaxRuns + 1 ints) and <paramref name="masks"/> (2·MaxRuns vectors) are scratch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool MultiRuns(ConvImplicitGemmLayout L, float* x, int* rowOff, int kc, int oh, int ow, int w, float* d,
        int* runs, Vector512<float>* masks)
    {
        int* bases = runs;
        int* starts = runs + MaxRuns;
        int segs = 0;
        for (int j = 0; j < w; segs++, oh++, ow = 0)
        {
            if (segs == MaxRuns) return false;
            bases[segs] = oh * L.RowStep + ow - j;
            starts[segs] = j;
            j += Math.Min(w - j, L.OW - ow);
        }
        starts[segs] = w;
        var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var lane16 = lane + Vector512.Create(16);
        for (int r = 0; r < segs; r++)
        {
            var lo = Vector512.Create(starts[r]);
            var hi = Vector512.Create(starts[r + 1]);
            masks[2 * r] = (Vector512.GreaterThanOrEqual(lane, lo) & Vector512.LessThan(lane, hi)).AsSingle();
            masks[2 * r + 1] = (Vector512.GreaterThanOrEqual(lane16, lo) & Vector512.LessThan(lane16, hi)).AsSingle();
        }
        for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
        {
            float* s = x + rowOff[kk];
            var v0 = Vector512<float>.Zero;
            var v1 = Vector512<float>.Zero;
            for (int r = 0; r < segs; r++)
            {
                float* sr = s + bases[r];
                v0 = Vector512.ConditionalSelect(masks[2 * r], Vector512.Load(sr), v0);
                v1 = Vector512.ConditionalSelect(masks[2 * r + 1], Vector512.Load(sr + 16), v1);
            }
            Vector512.Store(v0, d);
            Vector512.Store(v1, d + 16);
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ContiguousRun(int* rowOff, int kc, float* src, float* d, bool v512)
    {
        if (v512)
        {
            for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
            {
                float* s = src + rowOff[kk];
                Vector512.Store(Vector512.Load(s), d);
                Vector512.Store(Vector512.Load(s + 16), d + 16);
            }
            return;
        }
        for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
        {
            float* s = src + rowOff[kk];
            for (int q = 0; q < Gemm.NR; q += 8) Vector256.Store(Vector256.Load(s + q), d + q);
        }
    }

    /// <summary>Panel rows whose columns j &lt; t come from <c>s + j</c> and the others from <c>s + j + delta</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TwoRuns(int* rowOff, int kc, float* src, int delta, int t, float* d, bool v512)
    {
        if (v512)
        {
            var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            var vt = Vector512.Create(t);
            var second0 = Vector512.GreaterThanOrEqual(lane, vt).AsSingle();
            var second1 = Vector512.GreaterThanOrEqual(lane + Vector512.Create(16), vt).AsSingle();
            for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
            {
                float* s = src + rowOff[kk];
                Vector512.Store(Vector512.ConditionalSelect(second0, Vector512.Load(s + delta), Vector512.Load(s)), d);
                Vector512.Store(Vector512.ConditionalSelect(second1, Vector512.Load(s + delta + 16), Vector512.Load(s + 16)), d + 16);
            }
            return;
        }
        var lane8 = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var vt8 = Vector256.Create(t);
        Vector256<float> m0 = Vector256.GreaterThanOrEqual(lane8, vt8).AsSingle();
        Vector256<float> m1 = Vector256.GreaterThanOrEqual(lane8 + Vector256.Create(8), vt8).AsSingle();
        Vector256<float> m2 = Vector256.GreaterThanOrEqual(lane8 + Vector256.Create(16), vt8).AsSingle();
        Vector256<float> m3 = Vector256.GreaterThanOrEqual(lane8 + Vector256.Create(24), vt8).AsSingle();
        for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
        {
            float* s = src + rowOff[kk];
            Vector256.Store(Vector256.ConditionalSelect(m0, Vector256.Load(s + delta), Vector256.Load(s)), d);
            Vector256.Store(Vector256.ConditionalSelect(m1, Vector256.Load(s + delta + 8), Vector256.Load(s + 8)), d + 8);
            Vector256.Store(Vector256.ConditionalSelect(m2, Vector256.Load(s + delta + 16), Vector256.Load(s + 16)), d + 16);
            Vector256.Store(Vector256.ConditionalSelect(m3, Vector256.Load(s + delta + 24), Vector256.Load(s + 24)), d + 24);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gather(float* x, int* rowOff, int kc, int* offsets, int w, float* d)
    {
        var i0 = Vector256.Load(offsets);
        var i1 = Vector256.Load(offsets + 8);
        var i2 = Vector256.Load(offsets + 16);
        var i3 = Vector256.Load(offsets + 24);
        // Columns past w have offset 0 (a valid cell) and are zeroed after the gathers.
        float* zeroFrom = d + w;
        for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
        {
            float* s = x + rowOff[kk];
            Vector256.Store(Avx2.GatherVector256(s, i0, 4), d);
            Vector256.Store(Avx2.GatherVector256(s, i1, 4), d + 8);
            Vector256.Store(Avx2.GatherVector256(s, i2, 4), d + 16);
            Vector256.Store(Avx2.GatherVector256(s, i3, 4), d + 24);
        }
        if (w < Gemm.NR)
            for (int kk = 0; kk < kc; kk++, zeroFrom += Gemm.NR) new Span<float>(zeroFrom, Gemm.NR - w).Clear();
    }

    /// <summary>The portable path: the same gather one element at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScalarGather(float* x, int* rowOff, int kc, int* offsets, int w, float* d)
    {
        for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
        {
            float* s = x + rowOff[kk];
            int j = 0;
            for (; j < w; j++) d[j] = s[offsets[j]];
            for (; j < Gemm.NR; j++) d[j] = 0f;
        }
    }
}
