using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

internal static unsafe partial class ConvImplicitGemmBackward
{
    /// <summary>
    /// Backward-data of a strided convolution as SH·SW stride-1 implicit GEMMs, one per stride phase of the padded
    /// input gradient, written straight into the phase-split gradient buffer and cropped (gx fully overwritten).
    /// Returns false, writing nothing, when a phase's weights are too large for the panel loop.
    /// </summary>
    /// <remarks>
    /// Padded gradient cell (i·SH + a, j·SW + b) of channel c (phase (a, b), cell (i, j)) receives exactly the taps with
    /// kh·DH ≡ a (mod SH) and kw·DW ≡ b (mod SW), from output pixel (i − e(kh), j − e(kw)) with e(kh) = (kh·DH − a)/SH:
    /// <c>Z_ab[c, i, j] = Σ_{m, kh, kw} W[m, c, kh, kw] · gY[m, i − e(kh), j − e(kw)]</c>, a GEMM
    /// <c>Z_ab[C × Hq·Wq] = W_ab[C × M·|taps|] · B_ab</c> whose B is read from one copy of gY padded by the largest e
    /// at the top/left (and up to the phase size at the bottom/right): row (m, kh, kw) starts at cell
    /// <c>(m, padTop − e(kh), padLeft − e(kw))</c> and pixel (i, j) adds <c>i·Wg + j</c>.
    /// </remarks>
    public static bool DataByPhases(ConvGeometry g, ConvImplicitGemmLayout L, int n, float* gy, float* w, float* gx)
    {
        int sh = g.SH, sw = g.SW, phases = sh * sw;
        int[] eh = TapShifts(g.KH, g.DH, sh), ew = TapShifts(g.KW, g.DW, sw);
        int padTop = Max(eh), padLeft = Max(ew);
        int padBottom = Math.Max(0, L.Hq - g.OH), padRight = Math.Max(0, L.Wq - g.OW);
        int hg = g.OH + padTop + padBottom, wg = g.OW + padLeft + padRight;
        long phasePlane = (long)L.Hq * L.Wq, channelStride = phases * phasePlane;
        var layouts = new ConvImplicitGemmLayout?[phases];
        var drivers = new ConvImplicitGemmDriver?[phases];
        try
        {
            for (int a = 0; a < sh; a++)
                for (int b = 0; b < sw; b++)
                {
                    var taps = new List<(int Kh, int Kw)>();
                    for (int kh = 0; kh < g.KH; kh++)
                        for (int kw = 0; kw < g.KW; kw++)
                            if (kh * g.DH % sh == a && kw * g.DW % sw == b) taps.Add((kh, kw));
                    if (taps.Count == 0) continue;
                    int k = g.M * taps.Count;
                    var rows = new int[k];
                    var wab = GC.AllocateUninitializedArray<float>(g.C * k);
                    for (int m = 0, r = 0; m < g.M; m++)
                        foreach (var (kh, kw) in taps)
                        {
                            rows[r] = (m * hg + padTop - eh[kh]) * wg + padLeft - ew[kw];
                            for (int c = 0; c < g.C; c++) wab[(long)c * k + r] = w[((long)(m * g.C + c) * g.KH + kh) * g.KW + kw];
                            r++;
                        }
                    int ph = a * sw + b;
                    layouts[ph] = new ConvImplicitGemmLayout(g.M, g.OH, g.OW, padTop, padLeft, padBottom, padRight, rows, L.Hq, L.Wq);
                    fixed (float* pw = wab) drivers[ph] = ConvImplicitGemmDriver.TryCreate(pw, g.C, k);
                    if (drivers[ph] is null) return false;
                }
            var any = Array.Find(layouts, l => l is not null);
            long gyFloats = any?.BufferFloats ?? 0;
            int panels = (int)((phasePlane + Gemm.NR - 1) / Gemm.NR);
            int panelFloats = ConvImplicitGemmDriver.SliceDepth * Gemm.NR;
            long inImage = (long)g.C * g.IH * g.IW, outImage = (long)g.M * g.OH * g.OW;
            int outer = ConvImplicitGemm.OuterImages(n);
            nint agy = (nint)gy, agx = (nint)gx;
            Work.For(outer, 1, (start, end) =>
            {
                using var pad = ConvScratch.Rent(ConvScratchRole.PaddedImage, gyFloats);
                using var grad = ConvScratch.Rent(ConvScratchRole.PaddedGradient, L.BufferFloats);
                using var panel = ConvScratch.Rent(ConvScratchRole.Panel, panelFloats);
                for (int i = start; i < end; i++)
                {
                    any?.Pad((float*)agy + i * outImage, pad.Pointer);
                    for (int ph = 0; ph < phases; ph++)
                    {
                        float* z = grad.Pointer + ph * phasePlane;
                        if (drivers[ph] is not { } d)
                        {
                            for (int c = 0; c < g.C; c++) new Span<float>(z + c * channelStride, (int)phasePlane).Clear();
                            continue;
                        }
                        var packer = new ConvImplicitGemmPacker(layouts[ph]!, pad.Pointer);
                        d.Run(ref packer, (int)phasePlane, 0, panels, z, channelStride, null, panel.Pointer);
                    }
                    ConvImplicitGemmCol2Im.Crop(L, grad.Pointer, (float*)agx + i * inImage);
                }
            });
            if (outer == n) return true;
            using var padBuf = ConvScratch.Rent(ConvScratchRole.PaddedImage, gyFloats);
            using var gradBuf = ConvScratch.Rent(ConvScratchRole.PaddedGradient, L.BufferFloats);
            nint apad = (nint)padBuf.Pointer, agrad = (nint)gradBuf.Pointer;
            for (int i = outer; i < n; i++)
            {
                any?.PadParallel(gy + i * outImage, padBuf.Pointer);
                for (int ph = 0; ph < phases; ph++)
                {
                    float* z = gradBuf.Pointer + ph * phasePlane;
                    if (drivers[ph] is not { } d)
                    {
                        for (int c = 0; c < g.C; c++) new Span<float>(z + c * channelStride, (int)phasePlane).Clear();
                        continue;
                    }
                    var layout = layouts[ph]!;
                    nint az = (nint)z;
                    Work.For(panels, 1, (q0, q1) =>
                    {
                        using var panel = ConvScratch.Rent(ConvScratchRole.Panel, panelFloats);
                        var packer = new ConvImplicitGemmPacker(layout, (float*)apad);
                        d.Run(ref packer, (int)phasePlane, q0, q1, (float*)az, channelStride, null, panel.Pointer);
                    });
                }
                ConvImplicitGemmCol2Im.Crop(L, gradBuf.Pointer, gx + i * inImage);
            }
            return true;
        }
        finally
        {
            foreach (var d in drivers) d?.Dispose();
        }
    }

    /// <summary>e(k) = (k·dilation − (k·dilation mod stride)) / stride: the output-row shift of tap k within its phase.</summary>
    private static int[] TapShifts(int taps, int dilation, int stride)
    {
        var e = new int[taps];
        for (int k = 0; k < taps; k++) e[k] = k * dilation / stride;
        return e;
    }

    private static int Max(int[] values)
    {
        int m = 0;
        foreach (int v in values) m = Math.Max(m, v);
        return m;
    }
}
