using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// ONNX pooling kernels on NCHW float tensors (1-D, 2-D and 3-D): MaxPool (with optional Indices), AveragePool,
/// GlobalAveragePool, GlobalMaxPool, and their backward kernels. Parallel over the N·C planes; each output row is
/// computed with SIMD in its interior (where every tap is inside the input) and scalar at the padded edges.
/// </summary>
/// <remarks>
/// MaxPool: <c>y = max over in-range taps</c> (padding acts as −∞); ties resolve to the first tap in (d, h, w) order.
/// AveragePool: <c>y = (Σ in-range taps) / divisor</c> where the divisor is the product over axes of the number of taps
/// inside the input (count_include_pad = 0) or inside the padded input [−pb, in + pe) (count_include_pad = 1; taps that
/// run past the end padding under ceil_mode are never counted — PyTorch's rule, which ONNX's test data encodes).
/// The vector paths add taps in the reference order, so MaxPool and AveragePool match <see cref="PoolReference"/> bit for bit
/// (NaN inputs excepted: how NaN propagates through max is not specified).
/// </remarks>
public static unsafe partial class Pool
{
    /// <summary>MaxPool forward (values only; the fast path). See <see cref="PoolParams"/> for the geometry.</summary>
    public static Tensor<float> MaxPool(Tensor<float> x, PoolParams p) => Windowed(x, p, max: true, includePad: false, "MaxPool");

    /// <summary>AveragePool forward; <paramref name="countIncludePad"/> is ONNX's count_include_pad.</summary>
    public static Tensor<float> AveragePool(Tensor<float> x, PoolParams p, bool countIncludePad = false) =>
        Windowed(x, p, max: false, countIncludePad, "AveragePool");

    /// <summary>MaxPool forward into a preallocated <paramref name="y"/> of the output shape (for sessions that reuse buffers).</summary>
    public static void MaxPool(Tensor<float> x, PoolParams p, Tensor<float> y) => Windowed(x, p, max: true, includePad: false, "MaxPool", y);

    /// <summary>AveragePool forward into a preallocated <paramref name="y"/> of the output shape.</summary>
    public static void AveragePool(Tensor<float> x, PoolParams p, bool countIncludePad, Tensor<float> y) =>
        Windowed(x, p, max: false, countIncludePad, "AveragePool", y);

    private static Tensor<float> Windowed(Tensor<float> x, PoolParams p, bool max, bool includePad, string op, Tensor<float>? into = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(p);
        var g = p.Geometry(x.Dims, op);
        if (into is not null) Check.SameShape(op, "Y", g.OutputShape, into.Dims);
        var y = into ?? new Tensor<float>(g.OutputShape);
        if (y.Length == 0) return y;
        // Per-output-column divisor factor (AveragePool); the (d, h) factor is applied per row.
        var divW = new float[g.OW];
        for (int ow = 0; ow < g.OW; ow++)
            divW[ow] = PoolGeometry.Divisor(ow, g.SW, g.PW, g.PWe, g.KW, g.DW, g.W, includePad);
        long work = (long)g.OutPlane * g.KD * g.KH * g.KW;
        int grain = (int)Math.Clamp(65536 / Math.Max(work, 1), 1, int.MaxValue);
        Work.For(g.Planes, grain, (start, end) =>
        {
            fixed (float* px = x.Data, py = y.Data, pdiv = divW)
                PlanesForward(px, py, pdiv, g, max, includePad, start, end);
        });
        return y;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlanesForward(float* x, float* y, float* divW, in PoolGeometry g, bool max, bool includePad, int planeStart, int planeEnd)
    {
        int maxRows = g.KD * g.KH;
        float** rows = stackalloc float*[Math.Min(maxRows, 512)];
        float*[]? rowsHeap = maxRows > 512 ? new float*[maxRows] : null;
        fixed (float** rh = rowsHeap)
        {
            if (rh != null) rows = rh;
            // Interior columns: every tap of the row window lies in [0, W).
            int lo = Math.Min((g.PW + g.SW - 1) / g.SW, g.OW);
            int lastNum = g.W - 1 + g.PW - (g.KW - 1) * g.DW;
            int hi = lastNum < 0 ? lo : Math.Clamp(lastNum / g.SW + 1, lo, g.OW);
            for (int pl = planeStart; pl < planeEnd; pl++)
            {
                float* xp = x + (long)pl * g.InPlane;
                float* yp = y + (long)pl * g.OutPlane;
                for (int od = 0; od < g.OD; od++)
                for (int oh = 0; oh < g.OH; oh++)
                {
                    int nr = 0;
                    for (int kd = 0; kd < g.KD; kd++)
                    {
                        int id = od * g.SD - g.PD + kd * g.DD;
                        if ((uint)id >= (uint)g.D) continue;
                        for (int kh = 0; kh < g.KH; kh++)
                        {
                            int ih = oh * g.SH - g.PH + kh * g.DH;
                            if ((uint)ih >= (uint)g.H) continue;
                            rows[nr++] = xp + ((long)id * g.H + ih) * g.W;
                        }
                    }
                    float* yr = yp + ((long)od * g.OH + oh) * g.OW;
                    if (max)
                    {
                        MaxRow(rows, nr, yr, g, 0, lo, bounded: true);
                        int v = MaxRowVector(rows, nr, yr, g, lo, hi);
                        MaxRow(rows, nr, yr, g, v, hi, bounded: false);
                        MaxRow(rows, nr, yr, g, hi, g.OW, bounded: true);
                    }
                    else
                    {
                        float rowDiv = PoolGeometry.Divisor(od, g.SD, g.PD, g.PDe, g.KD, g.DD, g.D, includePad)
                                     * PoolGeometry.Divisor(oh, g.SH, g.PH, g.PHe, g.KH, g.DH, g.H, includePad);
                        SumRow(rows, nr, yr, divW, rowDiv, g, 0, lo, bounded: true);
                        int v = SumRowVector(rows, nr, yr, divW, rowDiv, g, lo, hi);
                        SumRow(rows, nr, yr, divW, rowDiv, g, v, hi, bounded: false);
                        SumRow(rows, nr, yr, divW, rowDiv, g, hi, g.OW, bounded: true);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaxRow(float** rows, int nr, float* yr, in PoolGeometry g, int from, int to, bool bounded)
    {
        for (int ow = from; ow < to; ow++)
        {
            float m = float.NegativeInfinity;
            bool any = false;
            int start = ow * g.SW - g.PW;
            for (int r = 0; r < nr; r++)
            {
                float* row = rows[r];
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int iw = start + kw * g.DW;
                    if (bounded && (uint)iw >= (uint)g.W) continue;
                    float v = row[iw];
                    if (v > m || !any) { m = v; any = true; }
                }
            }
            yr[ow] = m;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SumRow(float** rows, int nr, float* yr, float* divW, float rowDiv, in PoolGeometry g, int from, int to, bool bounded)
    {
        for (int ow = from; ow < to; ow++)
        {
            float s = 0;
            int start = ow * g.SW - g.PW;
            for (int r = 0; r < nr; r++)
            {
                float* row = rows[r];
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int iw = start + kw * g.DW;
                    if (bounded && (uint)iw >= (uint)g.W) continue;
                    s += row[iw];
                }
            }
            yr[ow] = s / (rowDiv * divW[ow]);
        }
    }

    /// <summary>Indices that pick the even elements of two registers loaded at b and b+15: b+0,2,…,14 then b+16,…,30.</summary>
    private static Vector512<int> EvenOfOverlapped => Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31);

    /// <summary>
    /// t[0], t[2], …, t[14] with AVX2, reading only t[0..14]: shufps picks the even lanes of the load at t and the odd
    /// lanes of the load at t+7 within each 128-bit half, then a 64-bit permute restores the order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Even8(float* t)
    {
        var mixed = Avx.Shuffle(Vector256.Load(t), Vector256.Load(t + 7), 0xD8);
        return Avx2.Permute4x64(mixed.AsDouble(), 0xD8).AsSingle();
    }

    /// <summary>Vector part of a max row over interior columns [from, to); returns the first column it did not do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int MaxRowVector(float** rows, int nr, float* yr, in PoolGeometry g, int from, int to)
    {
        int ow = from, next = from;
        if (nr == 0) return ow;
        int kw = g.KW, dw = g.DW, pw = g.PW;
        // Interiors of 8 to 15 columns (a 32-wide plane pooled by 2) take the 256-bit blocks below rather than the scalar loop.
        if (Vector512.IsHardwareAccelerated && g.SW == 1 && to - from >= 16)
        {
            // Blocks of 16; the last one overlaps the previous so no scalar tail is left (outputs are recomputed identically).
            for (next = from; to - from >= 16 && next < to; next = ow + 16)
            {
                ow = Math.Min(next, to - 16);
                var acc = Vector512.Create(float.NegativeInfinity);
                for (int r = 0; r < nr; r++)
                {
                    float* b = rows[r] + ow - pw;
                    for (int j = 0; j < kw; j++) acc = Vector512.MaxNative(acc, Vector512.Load(b + j * dw));
                }
                acc.Store(yr + ow);
            }
        }
        else if (Avx512F.IsSupported && g.SW == 2 && to - from >= 16)
        {
            var idx = EvenOfOverlapped;
            // Blocks of 16; the last one overlaps the previous so no scalar tail is left (outputs are recomputed identically).
            for (next = from; to - from >= 16 && next < to; next = ow + 16)
            {
                ow = Math.Min(next, to - 16);
                var acc = Vector512.Create(float.NegativeInfinity);
                for (int r = 0; r < nr; r++)
                {
                    float* b = rows[r] + 2 * ow - pw;
                    for (int j = 0; j < kw; j++)
                    {
                        float* t = b + j * dw;
                        var v = Avx512F.PermuteVar16x32x2(Vector512.Load(t), idx, Vector512.Load(t + 15));
                        acc = Avx512F.Max(acc, v);
                    }
                }
                acc.Store(yr + ow);
            }
        }
        else if (Vector256.IsHardwareAccelerated && g.SW == 1)
        {
            // Blocks of 8; the last one overlaps the previous so no scalar tail is left (outputs are recomputed identically).
            for (next = from; to - from >= 8 && next < to; next = ow + 8)
            {
                ow = Math.Min(next, to - 8);
                var acc = Vector256.Create(float.NegativeInfinity);
                for (int r = 0; r < nr; r++)
                {
                    float* b = rows[r] + ow - pw;
                    for (int j = 0; j < kw; j++) acc = Vector256.MaxNative(acc, Vector256.Load(b + j * dw));
                }
                acc.Store(yr + ow);
            }
        }
        else if (Avx2.IsSupported && g.SW == 2)
        {
            // Blocks of 8; the last one overlaps the previous so no scalar tail is left (outputs are recomputed identically).
            for (next = from; to - from >= 8 && next < to; next = ow + 8)
            {
                ow = Math.Min(next, to - 8);
                var acc = Vector256.Create(float.NegativeInfinity);
                for (int r = 0; r < nr; r++)
                {
                    float* b = rows[r] + 2 * ow - pw;
                    for (int j = 0; j < kw; j++) acc = Avx.Max(acc, Even8(b + j * dw));
                }
                acc.Store(yr + ow);
            }
        }
        return next;
    }

    /// <summary>Vector part of an average row over interior columns [from, to); returns the first column it did not do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int SumRowVector(float** rows, int nr, float* yr, float* divW, float rowDiv, in PoolGeometry g, int from, int to)
    {
        int ow = from, next = from;
        if (nr == 0) return ow;
        int kw = g.KW, dw = g.DW, pw = g.PW;
        if (Vector512.IsHardwareAccelerated && g.SW == 1 && to - from >= 16)
        {
            var rd = Vector512.Create(rowDiv);
            // Blocks of 16; the last one overlaps the previous so no scalar tail is left (outputs are recomputed identically).
            for (next = from; to - from >= 16 && next < to; next = ow + 16)
            {
                ow = Math.Min(next, to - 16);
                var acc = Vector512<float>.Zero;
                for (int r = 0; r < nr; r++)
                {
                    float* b = rows[r] + ow - pw;
                    for (int j = 0; j < kw; j++) acc += Vector512.Load(b + j * dw);
                }
                (acc / (rd * Vector512.Load(divW + ow))).Store(yr + ow);
            }
        }
        else if (Avx512F.IsSupported && g.SW == 2 && to - from >= 16)
        {
            var idx = EvenOfOverlapped;
            var rd = Vector512.Create(rowDiv);
            // Blocks of 16; the last one overlaps the previous so no scalar tail is left (outputs are recomputed identically).
            for (next = from; to - from >= 16 && next < to; next = ow + 16)
            {
                ow = Math.Min(next, to - 16);
                var acc = Vector512<float>.Zero;
                for (int r = 0; r < nr; r++)
                {
                    float* b = rows[r] + 2 * ow - pw;
                    for (int j = 0; j < kw; j++)
                    {
                        float* t = b + j * dw;
                        acc += Avx512F.PermuteVar16x32x2(Vector512.Load(t), idx, Vector512.Load(t + 15));
                    }
                }
                (acc / (rd * Vector512.Load(divW + ow))).Store(yr + ow);
            }
        }
        else if (Vector256.IsHardwareAccelerated && g.SW == 1)
        {
            var rd = Vector256.Create(rowDiv);
            // Blocks of 8; the last one overlaps the previous so no scalar tail is left (outputs are recomputed identically).
            for (next = from; to - from >= 8 && next < to; next = ow + 8)
            {
                ow = Math.Min(next, to - 8);
                var acc = Vector256<float>.Zero;
                for (int r = 0; r < nr; r++)
                {
                    float* b = rows[r] + ow - pw;
                    for (int j = 0; j < kw; j++) acc += Vector256.Load(b + j * dw);
                }
                (acc / (rd * Vector256.Load(divW + ow))).Store(yr + ow);
            }
        }
        else if (Avx2.IsSupported && g.SW == 2)
        {
            var rd = Vector256.Create(rowDiv);
            // Blocks of 8; the last one overlaps the previous so no scalar tail is left (outputs are recomputed identically).
            for (next = from; to - from >= 8 && next < to; next = ow + 8)
            {
                ow = Math.Min(next, to - 8);
                var acc = Vector256<float>.Zero;
                for (int r = 0; r < nr; r++)
                {
                    float* b = rows[r] + 2 * ow - pw;
                    for (int j = 0; j < kw; j++) acc += Even8(b + j * dw);
                }
                (acc / (rd * Vector256.Load(divW + ow))).Store(yr + ow);
            }
        }
        return next;
    }
}
