namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Plain scalar pooling: the specification that <see cref="Pool"/> is tested against. One thread, no vectors,
/// windows visited in (d, h, w) order so ties resolve to the first index and sums add in a fixed order.
/// </summary>
public static class PoolReference
{
    /// <summary>MaxPool forward with ONNX Indices (flattened index into the whole input, storage_order 0). Padding acts as −∞.</summary>
    public static (Tensor<float> Y, Tensor<long> Indices) MaxPool(Tensor<float> x, PoolParams p)
    {
        var g = p.Geometry(x.Dims, "MaxPool");
        var y = new Tensor<float>(g.OutputShape);
        var idx = new Tensor<long>(g.OutputShape);
        int o = 0;
        for (int pl = 0; pl < g.Planes; pl++)
        {
            int baseIn = pl * g.InPlane;
            for (int od = 0; od < g.OD; od++)
            for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++, o++)
            {
                float best = float.NegativeInfinity;
                long bestIdx = -1;
                for (int kd = 0; kd < g.KD; kd++)
                {
                    int id = od * g.SD - g.PD + kd * g.DD;
                    if (id < 0 || id >= g.D) continue;
                    for (int kh = 0; kh < g.KH; kh++)
                    {
                        int ih = oh * g.SH - g.PH + kh * g.DH;
                        if (ih < 0 || ih >= g.H) continue;
                        for (int kw = 0; kw < g.KW; kw++)
                        {
                            int iw = ow * g.SW - g.PW + kw * g.DW;
                            if (iw < 0 || iw >= g.W) continue;
                            int at = baseIn + (id * g.H + ih) * g.W + iw;
                            float v = x.Data[at];
                            if (v > best || bestIdx < 0) { best = v; bestIdx = at; }
                        }
                    }
                }
                y.Data[o] = best;
                idx.Data[o] = bestIdx;
            }
        }
        return (y, idx);
    }

    /// <summary>AveragePool forward: window sum over in-range taps divided by the divisor of <see cref="PoolGeometry.Divisor"/>.</summary>
    public static Tensor<float> AveragePool(Tensor<float> x, PoolParams p, bool countIncludePad)
    {
        var g = p.Geometry(x.Dims, "AveragePool");
        var y = new Tensor<float>(g.OutputShape);
        int o = 0;
        for (int pl = 0; pl < g.Planes; pl++)
        {
            int baseIn = pl * g.InPlane;
            for (int od = 0; od < g.OD; od++)
            for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++, o++)
            {
                float sum = 0;
                for (int kd = 0; kd < g.KD; kd++)
                {
                    int id = od * g.SD - g.PD + kd * g.DD;
                    if (id < 0 || id >= g.D) continue;
                    for (int kh = 0; kh < g.KH; kh++)
                    {
                        int ih = oh * g.SH - g.PH + kh * g.DH;
                        if (ih < 0 || ih >= g.H) continue;
                        for (int kw = 0; kw < g.KW; kw++)
                        {
                            int iw = ow * g.SW - g.PW + kw * g.DW;
                            if (iw < 0 || iw >= g.W) continue;
                            sum += x.Data[baseIn + (id * g.H + ih) * g.W + iw];
                        }
                    }
                }
                int div = PoolGeometry.Divisor(od, g.SD, g.PD, g.PDe, g.KD, g.DD, g.D, countIncludePad)
                        * PoolGeometry.Divisor(oh, g.SH, g.PH, g.PHe, g.KH, g.DH, g.H, countIncludePad)
                        * PoolGeometry.Divisor(ow, g.SW, g.PW, g.PWe, g.KW, g.DW, g.W, countIncludePad);
                y.Data[o] = sum / div;
            }
        }
        return y;
    }

    /// <summary>GlobalAveragePool: mean over all spatial elements of each (n, c) plane; output [N, C, 1, …].</summary>
    public static Tensor<float> GlobalAveragePool(Tensor<float> x)
    {
        var (y, planes, size) = Pool.GlobalOutput(x, "GlobalAveragePool");
        for (int pl = 0; pl < planes; pl++)
        {
            float s = 0;
            for (int i = 0; i < size; i++) s += x.Data[pl * size + i];
            y.Data[pl] = s / size;
        }
        return y;
    }

    /// <summary>GlobalMaxPool: maximum over all spatial elements of each (n, c) plane; output [N, C, 1, …].</summary>
    public static Tensor<float> GlobalMaxPool(Tensor<float> x)
    {
        var (y, planes, size) = Pool.GlobalOutput(x, "GlobalMaxPool");
        for (int pl = 0; pl < planes; pl++)
        {
            float m = float.NegativeInfinity;
            for (int i = 0; i < size; i++) m = Math.Max(m, x.Data[pl * size + i]);
            y.Data[pl] = m;
        }
        return y;
    }

    /// <summary>MaxPool backward: each output gradient is added at its argmax index (entries &lt; 0 are skipped).</summary>
    public static Tensor<float> MaxPoolBackward(Tensor<float> gradY, Tensor<long> indices, ReadOnlySpan<int> inputShape)
    {
        var gx = new Tensor<float>(inputShape);
        for (int i = 0; i < gradY.Length; i++)
            if (indices.Data[i] >= 0) gx.Data[indices.Data[i]] += gradY.Data[i];
        return gx;
    }

    /// <summary>AveragePool backward: each output gradient divided by its forward divisor is added to every in-range tap.</summary>
    public static Tensor<float> AveragePoolBackward(Tensor<float> gradY, ReadOnlySpan<int> inputShape, PoolParams p, bool countIncludePad)
    {
        var g = p.Geometry(inputShape, "AveragePoolBackward");
        var gx = new Tensor<float>(inputShape);
        int o = 0;
        for (int pl = 0; pl < g.Planes; pl++)
        {
            int baseIn = pl * g.InPlane;
            for (int od = 0; od < g.OD; od++)
            for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++, o++)
            {
                int div = PoolGeometry.Divisor(od, g.SD, g.PD, g.PDe, g.KD, g.DD, g.D, countIncludePad)
                        * PoolGeometry.Divisor(oh, g.SH, g.PH, g.PHe, g.KH, g.DH, g.H, countIncludePad)
                        * PoolGeometry.Divisor(ow, g.SW, g.PW, g.PWe, g.KW, g.DW, g.W, countIncludePad);
                float v = gradY.Data[o] / div;
                for (int kd = 0; kd < g.KD; kd++)
                {
                    int id = od * g.SD - g.PD + kd * g.DD;
                    if (id < 0 || id >= g.D) continue;
                    for (int kh = 0; kh < g.KH; kh++)
                    {
                        int ih = oh * g.SH - g.PH + kh * g.DH;
                        if (ih < 0 || ih >= g.H) continue;
                        for (int kw = 0; kw < g.KW; kw++)
                        {
                            int iw = ow * g.SW - g.PW + kw * g.DW;
                            if (iw < 0 || iw >= g.W) continue;
                            gx.Data[baseIn + (id * g.H + ih) * g.W + iw] += v;
                        }
                    }
                }
            }
        }
        return gx;
    }
}
