namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Scalar reference convolution (direct loops, double accumulation): the specification the fast kernels in
/// <see cref="Conv"/> are tested against. Semantics are ONNX <c>Conv</c> / <c>ConvTranspose</c>, NCHW, 1-D to 3-D.
/// </summary>
/// <remarks>
/// Forward: <c>y[n, m, o] = b[m] + Σ_{c ∈ group(m), k} w[m, c, k] · x[n, c, o·s − pBegin + k·d]</c> (out-of-range x is 0).
/// Backward-data: <c>gx[n, c, i] = Σ_{m, k : i = o·s − pBegin + k·d} w[m, c, k] · gy[n, m, o]</c>.
/// Backward-weight: <c>gw[m, c, k] = Σ_{n, o} gy[n, m, o] · x[n, c, o·s − pBegin + k·d]</c>. Bias: <c>gb[m] = Σ_{n, o} gy[n, m, o]</c>.
/// ConvTranspose is Conv backward-data with the ConvTranspose weight read as a Conv weight.
/// </remarks>
public static class ConvReference
{
    /// <summary>Conv forward: input [N, C, in…], weight [M, C/group, k…], optional bias [M] → [N, M, out…].</summary>
    public static Tensor<float> Forward(Tensor<float> x, Tensor<float> w, Tensor<float>? b, ConvParams p)
    {
        var geo = ConvGeometry.ForConv("Conv", x.Dims, w.Dims, p);
        Conv.CheckBias("Conv", b, geo.M);
        var y = new Tensor<float>(geo.OutputShape);
        ForwardCore(geo, x.Data, w.Data, b?.Data, y.Data);
        return y;
    }

    /// <summary>Conv gradient with respect to the input: gradOutput [N, M, out…] → [N, C, in…] (= <paramref name="inputShape"/>).</summary>
    public static Tensor<float> BackwardData(Tensor<float> gradOutput, Tensor<float> w, ReadOnlySpan<int> inputShape, ConvParams p)
    {
        var geo = ConvGeometry.ForConv("Conv.BackwardData", inputShape, w.Dims, p);
        Check.SameShape("Conv.BackwardData", "gradOutput", geo.OutputShape, gradOutput.Dims);
        var gx = new Tensor<float>(geo.InputShape);
        BackwardDataCore(geo, gradOutput.Data, w.Data, gx.Data);
        return gx;
    }

    /// <summary>Conv gradient with respect to the weight: → [M, C/group, k…] (= <paramref name="weightShape"/>).</summary>
    public static Tensor<float> BackwardWeight(Tensor<float> x, Tensor<float> gradOutput, ReadOnlySpan<int> weightShape, ConvParams p)
    {
        var geo = ConvGeometry.ForConv("Conv.BackwardWeight", x.Dims, weightShape, p);
        Check.SameShape("Conv.BackwardWeight", "gradOutput", geo.OutputShape, gradOutput.Dims);
        var gw = new Tensor<float>(geo.WeightShape);
        BackwardWeightCore(geo, x.Data, gradOutput.Data, gw.Data);
        return gw;
    }

    /// <summary>Bias gradient: gradOutput [N, M, out…] summed over batch and space → [M].</summary>
    public static Tensor<float> BackwardBias(Tensor<float> gradOutput)
    {
        Check.RankBetween("Conv.BackwardBias", "gradOutput", gradOutput.Dims, 3, 5);
        int n = gradOutput.Dims[0], m = gradOutput.Dims[1], size = gradOutput.Length / Math.Max(1, n * m);
        var gb = new Tensor<float>(m);
        for (int c = 0; c < m; c++)
        {
            double s = 0;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < size; i++) s += gradOutput.Data[(b * m + c) * size + i];
            gb.Data[c] = (float)s;
        }
        return gb;
    }

    /// <summary>ConvTranspose forward: input [N, C, in…], weight [C, M/group, k…], optional bias [M] → [N, M, out…].</summary>
    public static Tensor<float> Transpose(Tensor<float> x, Tensor<float> w, Tensor<float>? b, ConvParams p, int[]? outputPadding = null)
    {
        var geo = ConvGeometry.ForTranspose("ConvTranspose", x.Dims, w.Dims, p, outputPadding);
        Conv.CheckBias("ConvTranspose", b, geo.C);
        var y = new Tensor<float>(geo.InputShape);
        BackwardDataCore(geo, x.Data, w.Data, y.Data);
        if (b is not null)
        {
            int plane = geo.InSize;
            for (int i = 0; i < y.Length; i++) y.Data[i] += b.Data[i / plane % geo.C];
        }
        return y;
    }

    /// <summary>ConvTranspose gradient with respect to its input (a Conv forward of gradOutput) → shape <paramref name="inputShape"/>.</summary>
    public static Tensor<float> TransposeBackwardData(Tensor<float> gradOutput, Tensor<float> w, ReadOnlySpan<int> inputShape, ConvParams p, int[]? outputPadding = null)
    {
        var geo = ConvGeometry.ForTranspose("ConvTranspose.BackwardData", inputShape, w.Dims, p, outputPadding);
        Check.SameShape("ConvTranspose.BackwardData", "gradOutput", geo.InputShape, gradOutput.Dims);
        var gx = new Tensor<float>(geo.OutputShape);
        ForwardCore(geo, gradOutput.Data, w.Data, null, gx.Data);
        return gx;
    }

    /// <summary>ConvTranspose gradient with respect to its weight → shape <paramref name="weightShape"/>.</summary>
    public static Tensor<float> TransposeBackwardWeight(Tensor<float> x, Tensor<float> gradOutput, ReadOnlySpan<int> weightShape, ConvParams p, int[]? outputPadding = null)
    {
        var geo = ConvGeometry.ForTranspose("ConvTranspose.BackwardWeight", x.Dims, weightShape, p, outputPadding);
        Check.SameShape("ConvTranspose.BackwardWeight", "gradOutput", geo.InputShape, gradOutput.Dims);
        var gw = new Tensor<float>(geo.WeightShape);
        BackwardWeightCore(geo, gradOutput.Data, x.Data, gw.Data);
        return gw;
    }

    internal static void ForwardCore(ConvGeometry g, float[] x, float[] w, float[]? b, float[] y)
    {
        for (int n = 0; n < g.N; n++)
            for (int m = 0; m < g.M; m++)
            {
                int grp = m / g.Mg;
                for (int od = 0; od < g.OD; od++)
                    for (int oh = 0; oh < g.OH; oh++)
                        for (int ow = 0; ow < g.OW; ow++)
                        {
                            double s = b is null ? 0 : b[m];
                            for (int c = 0; c < g.Cg; c++)
                            {
                                int ci = grp * g.Cg + c;
                                for (int kd = 0; kd < g.KD; kd++)
                                    for (int kh = 0; kh < g.KH; kh++)
                                        for (int kw = 0; kw < g.KW; kw++)
                                        {
                                            int id = od * g.SD - g.PD + kd * g.DD, ih = oh * g.SH - g.PH + kh * g.DH, iw = ow * g.SW - g.PW + kw * g.DW;
                                            if ((uint)id >= (uint)g.ID || (uint)ih >= (uint)g.IH || (uint)iw >= (uint)g.IW) continue;
                                            s += (double)w[(((m * g.Cg + c) * g.KD + kd) * g.KH + kh) * g.KW + kw] *
                                                 x[(((n * g.C + ci) * g.ID + id) * g.IH + ih) * g.IW + iw];
                                        }
                            }
                            y[(((n * g.M + m) * g.OD + od) * g.OH + oh) * g.OW + ow] = (float)s;
                        }
            }
    }

    internal static void BackwardDataCore(ConvGeometry g, float[] gy, float[] w, float[] gx)
    {
        for (int n = 0; n < g.N; n++)
            for (int ci = 0; ci < g.C; ci++)
            {
                int grp = ci / g.Cg, c = ci % g.Cg;
                for (int id = 0; id < g.ID; id++)
                    for (int ih = 0; ih < g.IH; ih++)
                        for (int iw = 0; iw < g.IW; iw++)
                        {
                            double s = 0;
                            for (int mm = 0; mm < g.Mg; mm++)
                            {
                                int m = grp * g.Mg + mm;
                                for (int kd = 0; kd < g.KD; kd++)
                                {
                                    if (!OutIndex(id, kd, g.SD, g.PD, g.DD, g.OD, out int od)) continue;
                                    for (int kh = 0; kh < g.KH; kh++)
                                    {
                                        if (!OutIndex(ih, kh, g.SH, g.PH, g.DH, g.OH, out int oh)) continue;
                                        for (int kw = 0; kw < g.KW; kw++)
                                        {
                                            if (!OutIndex(iw, kw, g.SW, g.PW, g.DW, g.OW, out int ow)) continue;
                                            s += (double)w[(((m * g.Cg + c) * g.KD + kd) * g.KH + kh) * g.KW + kw] *
                                                 gy[(((n * g.M + m) * g.OD + od) * g.OH + oh) * g.OW + ow];
                                        }
                                    }
                                }
                            }
                            gx[(((n * g.C + ci) * g.ID + id) * g.IH + ih) * g.IW + iw] = (float)s;
                        }
            }
    }

    internal static void BackwardWeightCore(ConvGeometry g, float[] x, float[] gy, float[] gw)
    {
        for (int m = 0; m < g.M; m++)
        {
            int grp = m / g.Mg;
            for (int c = 0; c < g.Cg; c++)
                for (int kd = 0; kd < g.KD; kd++)
                    for (int kh = 0; kh < g.KH; kh++)
                        for (int kw = 0; kw < g.KW; kw++)
                        {
                            double s = 0;
                            int ci = grp * g.Cg + c;
                            for (int n = 0; n < g.N; n++)
                                for (int od = 0; od < g.OD; od++)
                                    for (int oh = 0; oh < g.OH; oh++)
                                        for (int ow = 0; ow < g.OW; ow++)
                                        {
                                            int id = od * g.SD - g.PD + kd * g.DD, ih = oh * g.SH - g.PH + kh * g.DH, iw = ow * g.SW - g.PW + kw * g.DW;
                                            if ((uint)id >= (uint)g.ID || (uint)ih >= (uint)g.IH || (uint)iw >= (uint)g.IW) continue;
                                            s += (double)gy[(((n * g.M + m) * g.OD + od) * g.OH + oh) * g.OW + ow] *
                                                 x[(((n * g.C + ci) * g.ID + id) * g.IH + ih) * g.IW + iw];
                                        }
                            gw[(((m * g.Cg + c) * g.KD + kd) * g.KH + kh) * g.KW + kw] = (float)s;
                        }
        }
    }

    /// <summary>The output index o with i = o·s − p + k·d, if it exists and lies in [0, outSize).</summary>
    private static bool OutIndex(int i, int k, int s, int p, int d, int outSize, out int o)
    {
        int t = i + p - k * d;
        o = t / s;
        return t >= 0 && t % s == 0 && o < outSize;
    }
}
