using System.Runtime.CompilerServices;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

public static unsafe partial class Pool
{
    /// <summary>
    /// MaxPool forward that also returns ONNX's Indices output: for each output, the flattened index (storage_order 0)
    /// into the whole input tensor — <c>((n·C + c)·D + d)·H + h)·W + w</c> — of the first maximal tap in (d, h, w) order.
    /// Scalar per plane, parallel over planes. A window with no tap inside the input yields −∞ and index −1.
    /// </summary>
    public static (Tensor<float> Y, Tensor<long> Indices) MaxPoolWithIndices(Tensor<float> x, PoolParams p)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(p);
        var g = p.Geometry(x.Dims, "MaxPool");
        var y = new Tensor<float>(g.OutputShape);
        var idx = new Tensor<long>(g.OutputShape);
        long work = (long)g.OutPlane * g.KD * g.KH * g.KW;
        Work.For(g.Planes, (int)Math.Clamp(32768 / Math.Max(work, 1), 1, int.MaxValue), (start, end) =>
        {
            fixed (float* px = x.Data, py = y.Data)
            fixed (long* pi = idx.Data)
                ArgMaxPlanes(px, py, pi, g, start, end);
        });
        return (y, idx);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ArgMaxPlanes(float* x, float* y, long* ind, in PoolGeometry g, int planeStart, int planeEnd)
    {
        for (int pl = planeStart; pl < planeEnd; pl++)
        {
            long baseIn = (long)pl * g.InPlane;
            long o = (long)pl * g.OutPlane;
            for (int od = 0; od < g.OD; od++)
            for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++, o++)
            {
                float best = float.NegativeInfinity;
                long bestIdx = -1;
                for (int kd = 0; kd < g.KD; kd++)
                {
                    int id = od * g.SD - g.PD + kd * g.DD;
                    if ((uint)id >= (uint)g.D) continue;
                    for (int kh = 0; kh < g.KH; kh++)
                    {
                        int ih = oh * g.SH - g.PH + kh * g.DH;
                        if ((uint)ih >= (uint)g.H) continue;
                        long rowAt = baseIn + ((long)id * g.H + ih) * g.W;
                        int iw = ow * g.SW - g.PW;
                        for (int kw = 0; kw < g.KW; kw++, iw += g.DW)
                        {
                            if ((uint)iw >= (uint)g.W) continue;
                            float v = x[rowAt + iw];
                            if (v > best || bestIdx < 0) { best = v; bestIdx = rowAt + iw; }
                        }
                    }
                }
                y[o] = best;
                ind[o] = bestIdx;
            }
        }
    }

    /// <summary>
    /// MaxPool backward: <c>dx[Indices[i]] += dy[i]</c> (ONNX Indices as produced by <see cref="MaxPoolWithIndices"/>;
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
