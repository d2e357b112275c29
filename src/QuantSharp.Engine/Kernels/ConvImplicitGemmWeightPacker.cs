using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The backward-weight implicit-GEMM packer: op(B) is the transposed im2col matrix of one padded image
/// (P = OH·OW rows, K = C·KH·KW columns), so that <c>gW[M × K] += gY[M × P] · op(B)</c>.
/// </summary>
/// <remarks>
/// <c>dest[kk·NR + j] = buffer[RowOffsets[n0 + j] + PixelOffset(k0 + kk)]</c> (see <see cref="ConvImplicitGemmLayout"/>):
/// one panel row is the same 32 im2col rows at one pixel. In the phase-split buffer every stride is 1, so 16 consecutive
/// pixels of one im2col row are one contiguous run, or one run per output row they span (a select between loads, as
/// in <see cref="ConvImplicitGemmPacker"/>), and the panel is built from 16×16 blocks: 16 such rows (16 im2col rows ×
/// 16 pixels) transposed in registers with AVX-512 unpacks and lane shuffles. Blocks over more than four output rows
/// (outputs narrower than 5) and the pixels left over use AVX2 gathers with the panel's 32 row offsets from a base
/// that walks the output pixels, or a scalar loop over the same offsets.
/// </remarks>
internal readonly unsafe struct ConvImplicitGemmWeightPacker : IGemmBPacker
{
    private readonly ConvImplicitGemmLayout _layout;
    private readonly float* _x;
    private readonly bool _v512, _gather;

    /// <param name="layout">Geometry of the padded image.</param>
    /// <param name="paddedImage">The padded image (<see cref="ConvImplicitGemmLayout.Pad"/>), with its slack.</param>
    /// <param name="portable">Force the path of machines without AVX-512 or AVX2 (scalar gathers); tests compare both.</param>
    public ConvImplicitGemmWeightPacker(ConvImplicitGemmLayout layout, float* paddedImage, bool portable = false)
    {
        _layout = layout;
        _x = paddedImage;
        _v512 = !portable && Avx512F.IsSupported;
        _gather = !portable && Avx2.IsSupported;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int k0, int kc, int n0, int nc, float* dest)
    {
        const int nr = Gemm.NR;
        var L = _layout;
        int* offsets = stackalloc int[nr];
        int* segments = stackalloc int[MaxSegments];
        Vector512<float>* masks = stackalloc Vector512<float>[MaxSegments];
        for (int j0 = 0; j0 < nc; j0 += nr)
        {
            int w = Math.Min(nr, nc - j0);
            for (int j = 0; j < nr; j++) offsets[j] = j < w ? L.RowOffsets[n0 + j0 + j] : 0;
            float* d = dest + (long)j0 * kc;
            int oh = k0 / L.OW, ow = k0 - oh * L.OW;
            int done = 0;
            if (_v512 && w == nr && L.OW >= 16)
                done = TransposedRuns(L, _x, offsets, kc, ref oh, ref ow, d);
            else if (_v512)
                done = TransposedSegments(L, _x, offsets, w, kc, ref oh, ref ow, d, segments, masks);
            if (done == kc) continue;
            if (_gather) Gather(L, _x, offsets, w, kc - done, oh, ow, d + (long)done * nr);
            else ScalarGather(L, _x, offsets, w, kc - done, oh, ow, d + (long)done * nr);
        }
    }

    /// <summary>
    /// Panel rows in blocks of 16 pixels (as many whole blocks as fit in kc) by 16×16 transposes; advances (oh, ow)
    /// past them and returns the number of pixels done. Needs OW ≥ 16 (a block then crosses at most one output-row boundary).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TransposedRuns(ConvImplicitGemmLayout L, float* x, int* offsets, int kc, ref int oh, ref int ow, float* d)
    {
        int rowStep = L.RowStep, outW = L.OW, delta = rowStep - outW;
        var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        int kk = 0;
        for (; kk + 16 <= kc; kk += 16, d += 16 * Gemm.NR)
        {
            float* src = x + oh * rowStep + ow;
            int t = outW - ow; // pixels of the block on the current output row
            if (t >= 16)
            {
                Transpose16(src, offsets, 0, default, false, d);
                Transpose16(src, offsets + 16, 0, default, false, d + 16);
            }
            else
            {
                var second = Vector512.GreaterThanOrEqual(lane, Vector512.Create(t)).AsSingle();
                Transpose16(src, offsets, delta, second, true, d);
                Transpose16(src, offsets + 16, delta, second, true, d + 16);
            }
            ow += 16;
            if (ow >= outW)
            {
                ow -= outW;
                oh++;
            }
        }
        return kk;
    }

    /// <summary>Most output-row segments a block of 16 pixels may span in <see cref="TransposedSegments"/>.</summary>
    private const int MaxSegments = 4;

    /// <summary>
    /// The general form of <see cref="TransposedRuns"/> for narrow outputs (a block of 16 pixels over up to
    /// <see cref="MaxSegments"/> output rows: segment r covers pixels [start_r, start_(r+1)) read at <c>base_r + q</c>)
    /// and partial panels (columns past w are 0). Stops at the first block that spans more rows; returns the pixels done.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TransposedSegments(ConvImplicitGemmLayout L, float* x, int* offsets, int w, int kc, ref int oh, ref int ow,
        float* d, int* bases, Vector512<float>* masks)
    {
        var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        int kk = 0;
        for (; kk + 16 <= kc; kk += 16, d += 16 * Gemm.NR)
        {
            int segs = 0, q = 0, h = oh, c = ow;
            for (; q < 16 && segs < MaxSegments; segs++, h++, c = 0)
            {
                bases[segs] = h * L.RowStep + c - q;
                var lo = Vector512.Create(q);
                q += Math.Min(16 - q, L.OW - c);
                masks[segs] = (Vector512.GreaterThanOrEqual(lane, lo) & Vector512.LessThan(lane, Vector512.Create(q))).AsSingle();
            }
            if (q < 16) break;
            Transpose16Segments(x, offsets, Math.Min(w, 16), bases, masks, segs, d);
            if (w > 16) Transpose16Segments(x, offsets + 16, w - 16, bases, masks, segs, d + 16);
            else
                for (int i = 0; i < 16; i++) Vector512.Store(Vector512<float>.Zero, d + i * Gemm.NR + 16);
            for (ow += 16; ow >= L.OW; ow -= L.OW) oh++;
        }
        return kk;
    }

    /// <summary>
    /// Rows i &lt; <paramref name="valid"/>: <c>r_i[q] = x[off[i] + base_r + q]</c> for q in segment r; rows from valid on are 0;
    /// stores the transpose <c>d[q·NR + i] = r_i[q]</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose16Segments(float* x, int* off, int valid, int* bases, Vector512<float>* masks, int segs, float* d)
    {
        var r0 = SegmentRow(x, off, 0, valid, bases, masks, segs);
        var r1 = SegmentRow(x, off, 1, valid, bases, masks, segs);
        var r2 = SegmentRow(x, off, 2, valid, bases, masks, segs);
        var r3 = SegmentRow(x, off, 3, valid, bases, masks, segs);
        var r4 = SegmentRow(x, off, 4, valid, bases, masks, segs);
        var r5 = SegmentRow(x, off, 5, valid, bases, masks, segs);
        var r6 = SegmentRow(x, off, 6, valid, bases, masks, segs);
        var r7 = SegmentRow(x, off, 7, valid, bases, masks, segs);
        var r8 = SegmentRow(x, off, 8, valid, bases, masks, segs);
        var r9 = SegmentRow(x, off, 9, valid, bases, masks, segs);
        var r10 = SegmentRow(x, off, 10, valid, bases, masks, segs);
        var r11 = SegmentRow(x, off, 11, valid, bases, masks, segs);
        var r12 = SegmentRow(x, off, 12, valid, bases, masks, segs);
        var r13 = SegmentRow(x, off, 13, valid, bases, masks, segs);
        var r14 = SegmentRow(x, off, 14, valid, bases, masks, segs);
        var r15 = SegmentRow(x, off, 15, valid, bases, masks, segs);
        Network(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15, d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SegmentRow(float* x, int* off, int i, int valid, int* bases, Vector512<float>* masks, int segs)
    {
        if (i >= valid) return Vector512<float>.Zero;
        float* s = x + off[i];
        var v = Vector512.Load(s + bases[0]);
        for (int r = 1; r < segs; r++) v = Vector512.ConditionalSelect(masks[r], Vector512.Load(s + bases[r]), v);
        return v;
    }

    /// <summary>
    /// Loads 16 rows <c>r_i[q] = src[off[i] + q]</c> (q ≥ t from <c>src[off[i] + q + delta]</c> when <paramref name="cross"/>,
    /// t given by <paramref name="second"/>) and stores the transpose: <c>d[q·NR + i] = r_i[q]</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose16(float* src, int* off, int delta, Vector512<float> second, bool cross, float* d)
    {
        var r0 = Row(src + off[0], delta, second, cross);
        var r1 = Row(src + off[1], delta, second, cross);
        var r2 = Row(src + off[2], delta, second, cross);
        var r3 = Row(src + off[3], delta, second, cross);
        var r4 = Row(src + off[4], delta, second, cross);
        var r5 = Row(src + off[5], delta, second, cross);
        var r6 = Row(src + off[6], delta, second, cross);
        var r7 = Row(src + off[7], delta, second, cross);
        var r8 = Row(src + off[8], delta, second, cross);
        var r9 = Row(src + off[9], delta, second, cross);
        var r10 = Row(src + off[10], delta, second, cross);
        var r11 = Row(src + off[11], delta, second, cross);
        var r12 = Row(src + off[12], delta, second, cross);
        var r13 = Row(src + off[13], delta, second, cross);
        var r14 = Row(src + off[14], delta, second, cross);
        var r15 = Row(src + off[15], delta, second, cross);
        Network(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15, d);
    }

    /// <summary>The 16×16 register transpose: stores <c>d[q·NR + i] = r_i[q]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Network(Vector512<float> r0, Vector512<float> r1, Vector512<float> r2, Vector512<float> r3,
        Vector512<float> r4, Vector512<float> r5, Vector512<float> r6, Vector512<float> r7,
        Vector512<float> r8, Vector512<float> r9, Vector512<float> r10, Vector512<float> r11,
        Vector512<float> r12, Vector512<float> r13, Vector512<float> r14, Vector512<float> r15, float* d)
    {
        // Stage 1: within each 128-bit lane, interleave row pairs: (a0 b0 a1 b1), (a2 b2 a3 b3).
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);
        // Stage 2: pairs of pairs; u[4g + q] lane L = column 4L + q of rows 4g … 4g + 3.
        var u0 = Lo(t0, t2); var u1 = Hi(t0, t2); var u2 = Lo(t1, t3); var u3 = Hi(t1, t3);
        var u4 = Lo(t4, t6); var u5 = Hi(t4, t6); var u6 = Lo(t5, t7); var u7 = Hi(t5, t7);
        var u8 = Lo(t8, t10); var u9 = Hi(t8, t10); var u10 = Lo(t9, t11); var u11 = Hi(t9, t11);
        var u12 = Lo(t12, t14); var u13 = Hi(t12, t14); var u14 = Lo(t13, t15); var u15 = Hi(t13, t15);
        // Stage 3: gather the four 128-bit lanes of one column from u[q], u[4 + q], u[8 + q], u[12 + q].
        Columns(u0, u4, u8, u12, d, 0);
        Columns(u1, u5, u9, u13, d, 1);
        Columns(u2, u6, u10, u14, d, 2);
        Columns(u3, u7, u11, u15, d, 3);
    }

    /// <summary>Stores columns q, 4 + q, 8 + q and 12 + q (each 16 rows) from the stage-2 vectors of column class q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(Vector512<float> g0, Vector512<float> g1, Vector512<float> g2, Vector512<float> g3, float* d, int q)
    {
        var a = Avx512F.Shuffle4x128(g0, g1, 0x88); // lanes 0, 2 of g0; lanes 0, 2 of g1
        var b = Avx512F.Shuffle4x128(g0, g1, 0xDD); // lanes 1, 3 of g0; lanes 1, 3 of g1
        var c = Avx512F.Shuffle4x128(g2, g3, 0x88);
        var e = Avx512F.Shuffle4x128(g2, g3, 0xDD);
        Vector512.Store(Avx512F.Shuffle4x128(a, c, 0x88), d + q * Gemm.NR);
        Vector512.Store(Avx512F.Shuffle4x128(b, e, 0x88), d + (4 + q) * Gemm.NR);
        Vector512.Store(Avx512F.Shuffle4x128(a, c, 0xDD), d + (8 + q) * Gemm.NR);
        Vector512.Store(Avx512F.Shuffle4x128(b, e, 0xDD), d + (12 + q) * Gemm.NR);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Row(float* s, int delta, Vector512<float> second, bool cross) =>
        cross ? Vector512.ConditionalSelect(second, Vector512.Load(s + delta), Vector512.Load(s)) : Vector512.Load(s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Lo(Vector512<float> a, Vector512<float> b) => Avx512F.UnpackLow(a.AsDouble(), b.AsDouble()).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Hi(Vector512<float> a, Vector512<float> b) => Avx512F.UnpackHigh(a.AsDouble(), b.AsDouble()).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gather(ConvImplicitGemmLayout L, float* x, int* offsets, int w, int kc, int oh, int ow, float* d)
    {
        var i0 = Vector256.Load(offsets);
        var i1 = Vector256.Load(offsets + 8);
        var i2 = Vector256.Load(offsets + 16);
        var i3 = Vector256.Load(offsets + 24);
        int rowStep = L.RowStep, ow1 = L.OW;
        float* rowBase = x + oh * rowStep;
        // Columns past w have offset 0 (a valid cell) and are zeroed after the gathers.
        float* zeroFrom = d + w;
        for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
        {
            float* s = rowBase + ow;
            Vector256.Store(Avx2.GatherVector256(s, i0, 4), d);
            Vector256.Store(Avx2.GatherVector256(s, i1, 4), d + 8);
            Vector256.Store(Avx2.GatherVector256(s, i2, 4), d + 16);
            Vector256.Store(Avx2.GatherVector256(s, i3, 4), d + 24);
            if (++ow == ow1)
            {
                ow = 0;
                rowBase += rowStep;
            }
        }
        if (w < Gemm.NR)
            for (int kk = 0; kk < kc; kk++, zeroFrom += Gemm.NR) new Span<float>(zeroFrom, Gemm.NR - w).Clear();
    }

    /// <summary>The portable path: the same gather one element at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScalarGather(ConvImplicitGemmLayout L, float* x, int* offsets, int w, int kc, int oh, int ow, float* d)
    {
        int rowStep = L.RowStep;
        float* rowBase = x + oh * rowStep;
        for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
        {
            float* s = rowBase + ow;
            int j = 0;
            for (; j < w; j++) d[j] = s[offsets[j]];
            for (; j < Gemm.NR; j++) d[j] = 0f;
            if (++ow == L.OW)
            {
                ow = 0;
                rowBase += rowStep;
            }
        }
    }
}
