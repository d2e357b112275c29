using System.Buffers;
using System.Runtime.CompilerServices;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

internal static unsafe partial class DepthwiseConv
{
    /// <summary>Backward-data over all planes (gx fully overwritten).</summary>
    internal static void BackwardData(ConvGeometry g, float[] gy, float[] w, float[] gx) => BackwardData(g, gy, w, gx, DefaultWidth);

    /// <summary>
    /// Backward-data with an explicit vector width, as a gather (each input-gradient element is written once, no
    /// read-modify-write): <c>gx[ih, iw] = Σ w[kh, kw] · gy[oh, ow]</c> over the taps with
    /// <c>ih + pH = oh·sH + kh·dH</c> and <c>iw + pW = ow·sW + kw·dW</c>.
    /// </summary>
    /// <remarks>
    /// Padded input column t = iw + pW splits into phase r = t mod sW and position j = ⌊t / sW⌋; tap kw reaches phase
    /// (kw·dW) mod sW at ow = j − ⌊kw·dW / sW⌋, so each phase row is a sum of shifted gy rows (contiguous loads from a
    /// zero-margined copy of the gy plane). Stride 1 writes the input-gradient row directly; larger strides compute each
    /// phase row into a temporary row and interleave it.
    /// </remarks>
    internal static void BackwardData(ConvGeometry g, float[] gy, float[] w, float[] gx, int width)
    {
        int sw = g.SW, taps = g.KH * g.KW;
        int margin = (g.KW - 1) * g.DW / sw;                       // zero columns left of each gy row
        int jEnd = (g.PW + g.IW + sw - 1) / sw;                     // phase positions any input column maps to
        int jv = (jEnd + width - 1) / width * width + width;
        int rowStride = margin + Math.Max(jv, g.OW) + width;
        int planeSize = g.OH * rowStride;
        int planes = g.N * g.C;
        Work.For(planes, Math.Max(1, 16384 / Math.Max(1, g.InSize * taps)), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            var gyArr = ArrayPool<float>.Shared.Rent(planeSize);
            var tmpArr = ArrayPool<float>.Shared.Rent(jv);
            try
            {
                int* off = stackalloc int[taps];
                float* wts = stackalloc float[taps];
                float* tail = stackalloc float[16];
                fixed (float* gyb = gyArr, tmp = tmpArr, pgy = gy, pw = w, pgx = gx)
                {
                    new Span<float>(gyb, planeSize).Clear();
                    for (int pl = start; pl < end; pl++)
                    {
                        float* wc = pw + (long)(pl % g.C) * taps;
                        float* src = pgy + (long)pl * g.OutSize;
                        for (int oh = 0; oh < g.OH; oh++)
                            CopyRow(src + (long)oh * g.OW, gyb + (long)oh * rowStride + margin, g.OW);
                        float* dstPlane = pgx + (long)pl * g.InSize;
                        for (int ih = 0; ih < g.IH; ih++)
                        {
                            float* dst = dstPlane + (long)ih * g.IW;
                            for (int r = 0; r < sw; r++)
                            {
                                int count = CollectTaps(g, ih + g.PH, r, rowStride, margin, wc, off, wts);
                                if (sw == 1)
                                {
                                    RowGather(gyb + g.PW, off, wts, count, 0f, dst, g.IW, tail, width);
                                    continue;
                                }
                                RowGather(gyb, off, wts, count, 0f, tmp, jEnd, tail, width);
                                int first = ((r - g.PW) % sw + sw) % sw;
                                for (int iw = first; iw < g.IW; iw += sw) dst[iw] = tmp[(iw + g.PW) / sw];
                            }
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(gyArr);
                ArrayPool<float>.Shared.Return(tmpArr);
            }
        });
    }

    /// <summary>The taps (gy-buffer offset, weight) feeding padded row <paramref name="rr"/>, phase <paramref name="r"/>; returns their count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int CollectTaps(ConvGeometry g, int rr, int r, int rowStride, int margin, float* wc, int* off, float* wts)
    {
        int count = 0;
        for (int kh = 0; kh < g.KH; kh++)
        {
            int q = rr - kh * g.DH;
            if (q < 0 || q % g.SH != 0 || q / g.SH >= g.OH) continue;
            int oh = q / g.SH;
            for (int kw = 0; kw < g.KW; kw++)
            {
                int t = kw * g.DW;
                if (t % g.SW != r) continue;
                off[count] = oh * rowStride + margin - t / g.SW;
                wts[count] = wc[kh * g.KW + kw];
                count++;
            }
        }
        return count;
    }
}
