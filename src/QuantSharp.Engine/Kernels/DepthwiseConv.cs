using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Direct depthwise convolution (one input and one output channel per group, 1-D/2-D, any kernel, stride,
/// dilation and padding): forward, backward-data and backward-weight vectorized along the output row, no GEMM.
/// </summary>
/// <remarks>
/// Each channel plane is first copied into a zero-padded buffer whose rows are split into <c>stride</c> phases
/// (phase r holds padded columns r, r + s, r + 2s, …). Then the padded column <c>ow·s + kw·d</c> read by output
/// column ow is element <c>ow + ⌊kw·d / s⌋</c> of phase <c>(kw·d) mod s</c>: every tap is a contiguous vector load for
/// any stride. Forward: <c>y[oh, ow] = b + Σ_{kh,kw} w[kh,kw] · xpad[oh·sh + kh·dh, ow·sw + kw·dw]</c>.
/// Backward-data is the matching gather over a zero-margined copy of the gy plane (DepthwiseConv.BackwardData.cs):
/// every input-gradient element is written once, no read-modify-write.
/// Backward-weight: <c>gw[kh,kw] = Σ_{n,oh,ow} gy[oh, ow] · xpad[oh·sh + kh·dh, ow·sw + kw·dw]</c>.
/// Vector width is 16 (Vector512), 8 (Vector256) or 1 (scalar, the same loops without SIMD).
/// </remarks>
internal static unsafe partial class DepthwiseConv
{
    /// <summary>Lanes used by default: 16 with AVX-512, 8 with AVX2, else 1.</summary>
    internal static int DefaultWidth => Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 1;

    /// <summary>Sizes of the padded, phase-split plane buffer.</summary>
    private readonly struct Layout
    {
        public readonly int Rows, PhaseLen, RowStride, Size, OWv, Taps;

        public Layout(ConvGeometry g, int width)
        {
            OWv = (g.OW + width - 1) / width * width;
            PhaseLen = OWv + (g.KW - 1) * g.DW / g.SW + 1;
            RowStride = g.SW * PhaseLen;
            Rows = (g.OH - 1) * g.SH + (g.KH - 1) * g.DH + 1;
            Size = Rows * RowStride + width;
            Taps = g.KH * g.KW;
        }
    }

    /// <summary>Offsets in the padded buffer of every tap (kh, kw) relative to the first element of output row 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TapOffsets(ConvGeometry g, in Layout lay, int* off)
    {
        for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int t = kw * g.DW;
                off[kh * g.KW + kw] = kh * g.DH * lay.RowStride + t % g.SW * lay.PhaseLen + t / g.SW;
            }
    }

    /// <summary>Lanes 0, 2, …, 30 of two vectors side by side (a stride-2 phase).</summary>
    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

    /// <summary>Copies the plane <paramref name="x"/> [IH × IW] into the padded buffer (its padding cells must be zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fill(ConvGeometry g, in Layout lay, float* x, float* buf)
    {
        int span = g.SW * lay.PhaseLen;
        for (int ih = 0; ih < g.IH; ih++)
        {
            int rr = ih + g.PH;
            if (rr >= lay.Rows) break;
            float* row = buf + (long)rr * lay.RowStride;
            float* src = x + (long)ih * g.IW;
            if (g.SW == 1)
            {
                int count = Math.Min(g.IW, span - g.PW);
                if (count > 0) CopyRow(src, row + g.PW, count);
                continue;
            }
            // Padded column t = idx·SW + phase goes to row[phase·PhaseLen + idx]: one strided pass per phase, no division
            // per element (a division per element made a stride-2 depthwise layer cost several times its memory traffic).
            for (int phase = 0; phase < g.SW; phase++)
            {
                float* dst = row + phase * lay.PhaseLen;
                int idx = phase >= g.PW ? 0 : (g.PW - phase + g.SW - 1) / g.SW;
                int t = idx * g.SW + phase, iw = t - g.PW;
                if (g.SW == 2 && Avx512F.IsSupported)
                {
                    // Sixteen even (or odd) columns at a time: one two-vector permutation instead of sixteen scalar moves.
                    for (; t + 30 < span && iw + 32 <= g.IW; idx += 16, t += 32, iw += 32)
                        Avx512F.PermuteVar16x32x2(Vector512.Load(src + iw), EvenLanes, Vector512.Load(src + iw + 16)).Store(dst + idx);
                    if (t + 14 < span && iw + 16 <= g.IW)
                    {
                        // Eight more from one vector (a 16-column row, stride 2).
                        var v = Vector512.Load(src + iw);
                        Avx512F.PermuteVar16x32x2(v, EvenLanes, v).GetLower().Store(dst + idx);
                        idx += 8;
                        t += 16;
                        iw += 16;
                    }
                }
                for (; t < span && iw < g.IW; idx++, t += g.SW, iw += g.SW)
                    dst[idx] = src[iw];
            }
        }
    }

    /// <summary>Forward over all planes (y fully overwritten).</summary>
    internal static void Forward(ConvGeometry g, float[] x, float[] w, float[]? b, float[] y, ConvEpilogue? epilogue = null) =>
        Forward(g, x, w, b, y, DefaultWidth, epilogue);

    /// <summary>Forward with an explicit vector width (16, 8 or 1; tests run all three); the epilogue finishes each plane as it is computed.</summary>
    internal static void Forward(ConvGeometry g, float[] x, float[] w, float[]? b, float[] y, int width, ConvEpilogue? epilogue = null)
    {
        if (PreferPackedPlanes(g, width))
        {
            ForwardPackedPlanes(g, x, w, b, y, epilogue);
            return;
        }
        var lay = new Layout(g, width);
        int planes = g.N * g.C, taps = lay.Taps;
        Work.For(planes, Math.Max(1, 16384 / Math.Max(1, g.OutSize * taps)), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            var bufArr = ArrayPool<float>.Shared.Rent(lay.Size);
            try
            {
                int* off = stackalloc int[taps];
                float* tail = stackalloc float[16];
                TapOffsets(g, lay, off);
                fixed (float* buf = bufArr, px = x, pw = w, py = y, pb = b)
                {
                    new Span<float>(buf, lay.Size).Clear();
                    // The epilogue finishes runs of planes of about 16K values, while they are in cache.
                    int run = Math.Max(1, 16384 / Math.Max(1, g.OutSize)), done = start;
                    for (int pl = start; pl < end; pl++)
                    {
                        int c = pl % g.C;
                        Fill(g, lay, px + (long)pl * g.InSize, buf);
                        PlaneForward(g, lay, buf, off, pw + (long)c * taps, pb == null ? 0f : pb[c], py + (long)pl * g.OutSize, tail, width);
                        if (epilogue is not null && (pl + 1 - done == run || pl + 1 == end))
                        {
                            epilogue.ApplyPlanes(py, done, pl + 1 - done, g.C, g.OutSize);
                            done = pl + 1;
                        }
                    }
                }
            }
            finally { ArrayPool<float>.Shared.Return(bufArr); }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlaneForward(ConvGeometry g, in Layout lay, float* buf, int* off, float* wc, float bias, float* y, float* tail, int width)
    {
        RowsGather(buf, (long)g.SH * lay.RowStride, off, wc, lay.Taps, bias, y, g.OW, g.OW, g.OH, tail, width);
    }

    /// <summary>Copies <paramref name="n"/> floats (short rows: inline vector moves instead of a memmove call per row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CopyRow(float* src, float* dst, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16) Vector512.Load(src + i).Store(dst + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8) Vector256.Load(src + i).Store(dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    /// <summary>One row of <see cref="RowsGather"/>.</summary>
    internal static void RowGather(float* src, int* off, float* wts, int taps, float init, float* dst, int n, float* tail, int width) =>
        RowsGather(src, 0, off, wts, taps, init, dst, 0, n, 1, tail, width);

    /// <summary>
    /// For each of <paramref name="rows"/> rows r: <c>dst[r·dstStep + j] = init + Σ_t wts[t] · src[r·srcStep + off[t] + j]</c>
    /// for j in [0, n) — the one hot loop of the direct kernels. Reads may run up to the next multiple of
    /// <paramref name="width"/> past n (callers pad their buffers); writes stop at n.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowsGather(float* src, long srcStep, int* off, float* wts, int taps, float init, float* dst, long dstStep, int n, int rows, float* tail, int width)
    {
        int row = 0;
        if (width == 16)
        {
            // Two rows at a time: eight independent accumulator chains hide the FMA latency of the tap loop.
            for (; row + 2 <= rows; row += 2, src += 2 * srcStep, dst += 2 * dstStep)
                TwoRows16(src, srcStep, off, wts, taps, init, dst, dstStep, n, tail);
        }
        for (; row < rows; row++, src += srcStep, dst += dstStep)
        {
            int j = 0;
            if (width == 16)
            {
                var vb = Vector512.Create(init);
                for (; j + 64 <= n + 15; j += 64)
                {
                    Vector512<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb;
                    float* s = src + j;
                    for (int t = 0; t < taps; t++)
                    {
                        var wv = Vector512.Create(wts[t]);
                        float* q = s + off[t];
                        a0 = Vector512.FusedMultiplyAdd(Vector512.Load(q), wv, a0);
                        a1 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 16), wv, a1);
                        a2 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 32), wv, a2);
                        a3 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 48), wv, a3);
                    }
                    Store16(a0, dst, j, n, tail);
                    Store16(a1, dst, j + 16, n, tail);
                    Store16(a2, dst, j + 32, n, tail);
                    Store16(a3, dst, j + 48, n, tail);
                }
                for (; j < n; j += 16)
                {
                    var a0 = vb;
                    float* s = src + j;
                    for (int t = 0; t < taps; t++)
                        a0 = Vector512.FusedMultiplyAdd(Vector512.Load(s + off[t]), Vector512.Create(wts[t]), a0);
                    Store16(a0, dst, j, n, tail);
                }
            }
            else if (width == 8)
            {
                var vb = Vector256.Create(init);
                for (; j < n; j += 8)
                {
                    var a0 = vb;
                    float* s = src + j;
                    for (int t = 0; t < taps; t++)
                        a0 = Vector256.FusedMultiplyAdd(Vector256.Load(s + off[t]), Vector256.Create(wts[t]), a0);
                    if (j + 8 <= n) a0.Store(dst + j);
                    else
                    {
                        a0.Store(tail);
                        for (int i = 0; i < n - j; i++) dst[j + i] = tail[i];
                    }
                }
            }
            else
            {
                for (; j < n; j++)
                {
                    float a = init;
                    for (int t = 0; t < taps; t++) a = MathF.FusedMultiplyAdd(src[j + off[t]], wts[t], a);
                    dst[j] = a;
                }
            }
        }
    }

    /// <summary>Rows <paramref name="src"/> and src + srcStep of <see cref="RowsGather"/> with 16-lane vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TwoRows16(float* src, long srcStep, int* off, float* wts, int taps, float init, float* dst, long dstStep, int n, float* tail)
    {
        var vb = Vector512.Create(init);
        float* dst1 = dst + dstStep;
        int j = 0;
        for (; j + 64 <= n + 15; j += 64)
        {
            Vector512<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb, b0 = vb, b1 = vb, b2 = vb, b3 = vb;
            float* s = src + j;
            for (int t = 0; t < taps; t++)
            {
                var wv = Vector512.Create(wts[t]);
                float* q = s + off[t];
                float* r = q + srcStep;
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(q), wv, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 16), wv, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 32), wv, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 48), wv, a3);
                b0 = Vector512.FusedMultiplyAdd(Vector512.Load(r), wv, b0);
                b1 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 16), wv, b1);
                b2 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 32), wv, b2);
                b3 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 48), wv, b3);
            }
            Store16(a0, dst, j, n, tail);
            Store16(a1, dst, j + 16, n, tail);
            Store16(a2, dst, j + 32, n, tail);
            Store16(a3, dst, j + 48, n, tail);
            Store16(b0, dst1, j, n, tail);
            Store16(b1, dst1, j + 16, n, tail);
            Store16(b2, dst1, j + 32, n, tail);
            Store16(b3, dst1, j + 48, n, tail);
        }
        for (; j < n; j += 16)
        {
            Vector512<float> a0 = vb, b0 = vb;
            float* s = src + j;
            for (int t = 0; t < taps; t++)
            {
                var wv = Vector512.Create(wts[t]);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(s + off[t]), wv, a0);
                b0 = Vector512.FusedMultiplyAdd(Vector512.Load(s + off[t] + srcStep), wv, b0);
            }
            Store16(a0, dst, j, n, tail);
            Store16(b0, dst1, j, n, tail);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store16(Vector512<float> v, float* dst, int j, int ow, float* tail)
    {
        if (j + 16 <= ow) { v.Store(dst + j); return; }
        if (j >= ow) return;
        // A plain loop, not Span.CopyTo: a call here would make the JIT spill the accumulators of the hot loop.
        v.Store(tail);
        for (int i = 0; i < ow - j; i++) dst[j + i] = tail[i];
    }

    /// <summary>Backward-weight (gw fully overwritten); parallel over channels, each summing its batch in a fixed order.</summary>
    internal static void BackwardWeight(ConvGeometry g, float[] x, float[] gy, float[] gw) => BackwardWeight(g, x, gy, gw, DefaultWidth);

    /// <summary>Backward-weight with an explicit vector width.</summary>
    internal static void BackwardWeight(ConvGeometry g, float[] x, float[] gy, float[] gw, int width)
    {
        var lay = new Layout(g, width);
        int taps = lay.Taps, gyPlane = g.OH * lay.OWv;
        Work.For(g.C, Math.Max(1, 16384 / Math.Max(1, g.N * g.OutSize * taps)), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            var bufArr = ArrayPool<float>.Shared.Rent(lay.Size);
            var gyArr = ArrayPool<float>.Shared.Rent(gyPlane);
            var accArr = new double[taps];
            try
            {
                int* off = stackalloc int[taps];
                TapOffsets(g, lay, off);
                fixed (float* buf = bufArr, gyb = gyArr, px = x, pgy = gy, pgw = gw)
                {
                    new Span<float>(buf, lay.Size).Clear();
                    new Span<float>(gyb, gyPlane).Clear();
                    for (int c = start; c < end; c++)
                    {
                        Array.Clear(accArr);
                        for (int n = 0; n < g.N; n++)
                        {
                            long pl = (long)n * g.C + c;
                            Fill(g, lay, px + pl * g.InSize, buf);
                            // gy rows go into a zero-padded plane so full vectors multiply stray lanes by 0.
                            for (int oh = 0; oh < g.OH; oh++)
                                CopyRow(pgy + pl * g.OutSize + (long)oh * g.OW, gyb + (long)oh * lay.OWv, g.OW);
                            for (int t = 0; t < taps; t++) accArr[t] += PlaneDot(g, lay, buf + off[t], gyb, width);
                        }
                        for (int t = 0; t < taps; t++) pgw[(long)c * taps + t] = (float)accArr[t];
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(bufArr);
                ArrayPool<float>.Shared.Return(gyArr);
            }
        });
    }

    /// <summary>Σ_{oh, j} gy[oh, j] · src[oh·sh·rowStride + j] over the zero-padded gy plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float PlaneDot(ConvGeometry g, in Layout lay, float* src, float* gyb, int width)
    {
        int owv = lay.OWv;
        long step = (long)g.SH * lay.RowStride;
        if (width == 16)
        {
            Vector512<float> a0 = default, a1 = default;
            for (int oh = 0; oh < g.OH; oh++, src += step, gyb += owv)
            {
                int j = 0;
                for (; j + 32 <= owv; j += 32)
                {
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Load(gyb + j), Vector512.Load(src + j), a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Load(gyb + j + 16), Vector512.Load(src + j + 16), a1);
                }
                if (j < owv) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(gyb + j), Vector512.Load(src + j), a0);
            }
            return Vector512.Sum(a0 + a1);
        }
        if (width == 8)
        {
            Vector256<float> a0 = default;
            for (int oh = 0; oh < g.OH; oh++, src += step, gyb += owv)
                for (int j = 0; j < owv; j += 8) a0 = Vector256.FusedMultiplyAdd(Vector256.Load(gyb + j), Vector256.Load(src + j), a0);
            return Vector256.Sum(a0);
        }
        float s = 0;
        for (int oh = 0; oh < g.OH; oh++, src += step, gyb += owv)
            for (int j = 0; j < owv; j++) s = MathF.FusedMultiplyAdd(gyb[j], src[j], s);
        return s;
    }

    /// <summary>Sum of a span (vectorized; used for bias gradients).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Sum(ReadOnlySpan<float> v)
    {
        fixed (float* p = v)
        {
            int i = 0, n = v.Length;
            float s = 0;
            if (Vector512.IsHardwareAccelerated && n >= 16)
            {
                var a = Vector512<float>.Zero;
                for (; i <= n - 16; i += 16) a += Vector512.Load(p + i);
                s = Vector512.Sum(a);
            }
            else if (Vector256.IsHardwareAccelerated && n >= 8)
            {
                var a = Vector256<float>.Zero;
                for (; i <= n - 8; i += 8) a += Vector256.Load(p + i);
                s = Vector256.Sum(a);
            }
            for (; i < n; i++) s += p[i];
            return s;
        }
    }

    /// <summary><c>dst[i] += a</c> for i in [0, n), vectorized.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AddScalar(float* dst, float a, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(a);
            for (; i <= n - 16; i += 16) (Vector512.Load(dst + i) + va).Store(dst + i);
        }
        for (; i < n; i++) dst[i] += a;
    }
}
