using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

public static unsafe partial class Pool
{
    /// <summary>
    /// MaxPool forward that also returns ONNX's Indices output: for each output, the flattened index (storage_order 0)
    /// into the whole input tensor — <c>((n·C + c)·D + d)·H + h)·W + w</c> — of the first maximal tap in (d, h, w) order.
    /// Vectorized (AVX-512, stride 1 or 2) in row interiors, parallel over planes. A window with no tap inside the input yields −∞ and index −1.
    /// </summary>
    public static (Tensor<float> Y, Tensor<long> Indices) MaxPoolWithIndices(Tensor<float> x, PoolParams p)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(p);
        var shape = p.OutputShape(x.Dims, "MaxPool");
        var y = new Tensor<float>(shape);
        var idx = new Tensor<long>(shape);
        MaxPoolWithIndices(x, p, y, idx);
        return (y, idx);
    }

    /// <summary>MaxPool with Indices into preallocated <paramref name="y"/> and <paramref name="idx"/> of the output shape.</summary>
    public static void MaxPoolWithIndices(Tensor<float> x, PoolParams p, Tensor<float> y, Tensor<long> idx)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(idx);
        var g = p.Geometry(x.Dims, "MaxPool");
        Check.SameShape("MaxPool", "Y", g.OutputShape, y.Dims);
        Check.SameShape("MaxPool", "Indices", g.OutputShape, idx.Dims);
        long work = (long)g.OutPlane * g.KD * g.KH * g.KW;
        Work.For(g.Planes, (int)Math.Clamp(32768 / Math.Max(work, 1), 1, int.MaxValue), (start, end) =>
        {
            fixed (float* px = x.Data, py = y.Data)
            fixed (long* pi = idx.Data)
                ArgMaxPlanes(px, py, pi, g, start, end);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ArgMaxPlanes(float* x, float* y, long* ind, in PoolGeometry g, int planeStart, int planeEnd)
    {
        int maxRows = g.KD * g.KH;
        float** rows = stackalloc float*[Math.Min(maxRows, 512)];
        float*[]? rowsHeap = maxRows > 512 ? new float*[maxRows] : null;
        fixed (float** rh = rowsHeap)
        {
            if (rh != null) rows = rh;
            int lo = Math.Min((g.PW + g.SW - 1) / g.SW, g.OW);
            int lastNum = g.W - 1 + g.PW - (g.KW - 1) * g.DW;
            int hi = lastNum < 0 ? lo : Math.Clamp(lastNum / g.SW + 1, lo, g.OW);
            for (int pl = planeStart; pl < planeEnd; pl++)
            {
                float* xp = x + (long)pl * g.InPlane;
                long baseIn = (long)pl * g.InPlane;
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
                    long o = (long)pl * g.OutPlane + ((long)od * g.OH + oh) * g.OW;
                    float* yr = y + o;
                    long* ir = ind + o;
                    ArgMaxRow(rows, nr, xp, baseIn, yr, ir, g, 0, lo, bounded: true);
                    int v = ArgMaxRowVector(rows, nr, xp, baseIn, yr, ir, g, lo, hi);
                    ArgMaxRow(rows, nr, xp, baseIn, yr, ir, g, v, hi, bounded: false);
                    ArgMaxRow(rows, nr, xp, baseIn, yr, ir, g, hi, g.OW, bounded: true);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ArgMaxRow(float** rows, int nr, float* xp, long baseIn, float* yr, long* ir, in PoolGeometry g, int from, int to, bool bounded)
    {
        for (int ow = from; ow < to; ow++)
        {
            float best = float.NegativeInfinity;
            long bestIdx = -1;
            int start = ow * g.SW - g.PW;
            for (int r = 0; r < nr; r++)
            {
                float* row = rows[r];
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int iw = start + kw * g.DW;
                    if (bounded && (uint)iw >= (uint)g.W) continue;
                    float v = row[iw];
                    if (v > best || bestIdx < 0) { best = v; bestIdx = baseIn + (row - xp) + iw; }
                }
            }
            yr[ow] = best;
            ir[ow] = bestIdx;
        }
    }

    /// <summary>
    /// Vector argmax over interior columns [from, to) for stride 1 or 2 (AVX-512): the first tap initializes value and
    /// index, later taps replace them only when strictly greater, so ties keep the first index like the scalar path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ArgMaxRowVector(float** rows, int nr, float* xp, long baseIn, float* yr, long* ir, in PoolGeometry g, int from, int to)
    {
        int ow = from, next = from;
        if (nr == 0 || !Avx512F.IsSupported || g.SW > 2) return ow;
        int kw = g.KW, dw = g.DW, pw = g.PW, sw = g.SW;
        var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) * sw;
        var idxPick = EvenOfOverlapped;
        var vBase = Vector512.Create(baseIn);
        // Blocks of 16; the last one overlaps the previous so no scalar tail is left (outputs are recomputed identically).
        for (next = from; to - from >= 16 && next < to; next = ow + 16)
        {
            ow = Math.Min(next, to - 16);
            Vector512<float> acc = default;
            Vector512<int> accIdx = default;
            bool first = true;
            for (int r = 0; r < nr; r++)
            {
                float* b = rows[r] + sw * ow - pw;
                int rowOff = (int)(b - xp);
                for (int j = 0; j < kw; j++)
                {
                    float* t = b + j * dw;
                    var v = sw == 1 ? Vector512.Load(t) : Avx512F.PermuteVar16x32x2(Vector512.Load(t), idxPick, Vector512.Load(t + 15));
                    var at = Vector512.Create(rowOff + j * dw) + lanes;
                    if (first) { acc = v; accIdx = at; first = false; continue; }
                    var gt = Vector512.GreaterThan(v, acc);
                    acc = Vector512.ConditionalSelect(gt, v, acc);
                    accIdx = Vector512.ConditionalSelect(gt.AsInt32(), at, accIdx);
                }
            }
            acc.Store(yr + ow);
            (Vector512.WidenLower(accIdx) + vBase).Store(ir + ow);
            (Vector512.WidenUpper(accIdx) + vBase).Store(ir + ow + 8);
        }
        return next;
    }

    /// <summary>
    /// MaxPool backward: <c>dx[Indices[i]] += dy[i]</c> (ONNX Indices as produced by <see cref="MaxPoolWithIndices(Tensor{float}, PoolParams)"/>;
    /// negative entries are skipped). Each index must lie in the plane of its output.
    /// </summary>
    public static Tensor<float> MaxPoolBackward(Tensor<float> gradY, Tensor<long> indices, ReadOnlySpan<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(gradY);
        ArgumentNullException.ThrowIfNull(indices);
        const string op = "MaxPoolBackward";
        Check.SameShape(op, "indices", gradY.Dims, indices.Dims);
        Check.That(inputShape.Length == gradY.Rank && inputShape.Length >= 3, op, "inputShape", $"rank {gradY.Rank} (N, C, spatial…) like gradY {Shapes.Format(gradY.Dims)}", Shapes.Format(inputShape));
        Check.That(inputShape[0] == gradY.Dims[0] && inputShape[1] == gradY.Dims[1], op, "inputShape", $"N, C = {gradY.Dims[0]}, {gradY.Dims[1]} like gradY", Shapes.Format(inputShape));
        var gx = new Tensor<float>(inputShape);
        int planes = inputShape[0] * inputShape[1];
        if (planes == 0) return gx;
        int inPlane = gx.Length / planes, outPlane = gradY.Length / planes;
        int badOutput = -1;
        Work.For(planes, Math.Max(1, 32768 / Math.Max(outPlane, 1)), (start, end) =>
        {
            for (int pl = start; pl < end; pl++)
            {
                long lo = (long)pl * inPlane, hi = lo + inPlane;
                for (int i = pl * outPlane, e = i + outPlane; i < e; i++)
                {
                    long at = indices.Data[i];
                    if (at < 0) continue;
                    if (at < lo || at >= hi) { Interlocked.CompareExchange(ref badOutput, i, -1); continue; }
                    gx.Data[at] += gradY.Data[i];
                }
            }
        });
        if (badOutput >= 0)
        {
            long pl = badOutput / outPlane;
            throw new ShapeException($"{op}: argument 'indices' expected values in [{pl * inPlane}, {(pl + 1) * inPlane}) for output {badOutput} (its (n, c) plane), got {indices.Data[badOutput]}");
        }
        return gx;
    }

    /// <summary>
    /// AveragePool backward: every in-range tap of output <c>o</c> receives <c>dy[o] / divisor(o)</c>, the divisor of the
    /// forward pass (see <see cref="Pool"/> remarks). Parallel over planes.
    /// </summary>
    public static Tensor<float> AveragePoolBackward(Tensor<float> gradY, ReadOnlySpan<int> inputShape, PoolParams p, bool countIncludePad = false)
    {
        ArgumentNullException.ThrowIfNull(gradY);
        ArgumentNullException.ThrowIfNull(p);
        var g = p.Geometry(inputShape, "AveragePoolBackward");
        Check.SameShape("AveragePoolBackward", "gradY", g.OutputShape, gradY.Dims);
        var gx = new Tensor<float>(inputShape);
        long work = (long)g.OutPlane * g.KD * g.KH * g.KW;
        Work.For(g.Planes, (int)Math.Clamp(32768 / Math.Max(work, 1), 1, int.MaxValue), (start, end) =>
        {
            fixed (float* pgy = gradY.Data, pgx = gx.Data)
                SpreadPlanes(pgy, pgx, g, countIncludePad, start, end);
        });
        return gx;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SpreadPlanes(float* gy, float* gx, in PoolGeometry g, bool includePad, int planeStart, int planeEnd)
    {
        for (int pl = planeStart; pl < planeEnd; pl++)
        {
            float* xp = gx + (long)pl * g.InPlane;
            long o = (long)pl * g.OutPlane;
            for (int od = 0; od < g.OD; od++)
            for (int oh = 0; oh < g.OH; oh++)
            {
                int rowDiv = PoolGeometry.Divisor(od, g.SD, g.PD, g.PDe, g.KD, g.DD, g.D, includePad)
                           * PoolGeometry.Divisor(oh, g.SH, g.PH, g.PHe, g.KH, g.DH, g.H, includePad);
                for (int ow = 0; ow < g.OW; ow++, o++)
                {
                    float v = gy[o] / (rowDiv * PoolGeometry.Divisor(ow, g.SW, g.PW, g.PWe, g.KW, g.DW, g.W, includePad));
                    for (int kd = 0; kd < g.KD; kd++)
                    {
                        int id = od * g.SD - g.PD + kd * g.DD;
                        if ((uint)id >= (uint)g.D) continue;
                        for (int kh = 0; kh < g.KH; kh++)
                        {
                            int ih = oh * g.SH - g.PH + kh * g.DH;
                            if ((uint)ih >= (uint)g.H) continue;
                            float* row = xp + ((long)id * g.H + ih) * g.W;
                            int iw = ow * g.SW - g.PW;
                            for (int kw = 0; kw < g.KW; kw++, iw += g.DW)
                                if ((uint)iw < (uint)g.W) row[iw] += v;
                        }
                    }
                }
            }
        }
    }
}
