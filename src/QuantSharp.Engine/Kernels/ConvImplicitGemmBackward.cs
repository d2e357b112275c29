using System.Buffers;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The backward passes of <see cref="ConvImplicitGemm"/> that are not a forward convolution: the weight gradient
/// (implicit GEMM with the transposed im2col packer, <see cref="ConvImplicitGemmDriver.RunWeight"/>) and backward-data
/// through columns (GEMM + col2im) for strides above 1.
/// </summary>
internal static unsafe partial class ConvImplicitGemmBackward
{
    /// <summary>Floats of one column block of backward-data (≈ 1 MiB, so GEMM output and col2im input stay in L2).</summary>
    internal const int ColumnBudget = 1 << 18;

    /// <summary>
    /// <c>gw[M × K] = Σ_n gY_n[M × P] · B_nᵀ</c> (gw fully overwritten). Images spread over the cores accumulate into
    /// one partial per work block, added in block order; each remaining image accumulates into gw with its column
    /// panels split over the cores (disjoint columns, so no reduction).
    /// </summary>
    public static void Weight(ConvImplicitGemmLayout L, int n, float* x, float* gy, float* gw)
    {
        long inImage = (long)L.C * L.H * L.W, outImage = (long)L.M * L.P;
        int mk = L.M * L.K;
        int outer = ConvImplicitGemm.OuterImages(n);
        int panels = (L.K + Gemm.NR - 1) / Gemm.NR;
        long aFloats = ConvImplicitGemmDriver.WeightABufferFloats(L.M);
        const int panelFloats = ConvImplicitGemmDriver.SliceDepth * Gemm.NR;
        var partials = new List<(int Start, float[] Sum)>();
        nint ax = (nint)x, agy = (nint)gy;
        Work.For(outer, 1, (start, end) =>
        {
            var acc = ArrayPool<float>.Shared.Rent(mk); // returned after the reduction
            using var pad = ConvScratch.Rent(ConvScratchRole.PaddedImage, L.BufferFloats);
            using var aBuf = ConvScratch.Rent(ConvScratchRole.GradientSlice, aFloats);
            using var panel = ConvScratch.Rent(ConvScratchRole.Panel, panelFloats);
            fixed (float* pacc = acc)
                for (int i = start; i < end; i++)
                {
                    L.Pad((float*)ax + i * inImage, pad.Pointer);
                    var packer = new ConvImplicitGemmWeightPacker(L, pad.Pointer);
                    ConvImplicitGemmDriver.RunWeight(ref packer, L.M, L.K, L.P, (float*)agy + i * outImage, 0, panels, pacc,
                        i == start ? 0f : 1f, aBuf.Pointer, panel.Pointer);
                }
            lock (partials) partials.Add((start, acc));
        });
        if (outer > 0)
        {
            partials.Sort((a, b) => a.Start.CompareTo(b.Start));
            partials[0].Sum.AsSpan(0, mk).CopyTo(new Span<float>(gw, mk));
            for (int i = 1; i < partials.Count; i++)
                fixed (float* ps = partials[i].Sum) ConvIm2Col.AddInto(gw, ps, mk);
            foreach (var (_, sum) in partials) ArrayPool<float>.Shared.Return(sum);
        }
        else if (n == 0) new Span<float>(gw, mk).Clear();
        if (outer == n) return;
        using var buf = ConvScratch.Rent(ConvScratchRole.PaddedImage, L.BufferFloats);
        nint apad = (nint)buf.Pointer, agw = (nint)gw;
        for (int i = outer; i < n; i++)
        {
            L.PadParallel(x + i * inImage, buf.Pointer);
            nint agyi = (nint)(gy + i * outImage);
            float beta = i == 0 ? 0f : 1f;
            // One contiguous range of column panels per core: each range packs the whole gY once, so fewer ranges pack less.
            int ranges = Math.Min(panels, ConvImplicitGemm.Cores);
            Work.For(ranges, 1, (r0, r1) =>
            {
                using var aBuf = ConvScratch.Rent(ConvScratchRole.GradientSlice, aFloats);
                using var panel = ConvScratch.Rent(ConvScratchRole.Panel, panelFloats);
                var packer = new ConvImplicitGemmWeightPacker(L, (float*)apad);
                int q0 = (int)((long)panels * r0 / ranges), q1 = (int)((long)panels * r1 / ranges);
                ConvImplicitGemmDriver.RunWeight(ref packer, L.M, L.K, L.P, (float*)agyi, q0, q1, (float*)agw, beta, aBuf.Pointer, panel.Pointer);
            });
        }
    }

    /// <summary>
    /// <c>gX_n = crop(col2im(Wᵀ · gY_n))</c> for every image (gx fully overwritten), in blocks of output rows whose
    /// columns fit <see cref="ColumnBudget"/>, accumulated into a zero-padded gradient image and cropped at the end.
    /// </summary>
    public static void DataByColumns(ConvImplicitGemmLayout L, int n, float* gy, float* w, float* gx)
    {
        long inImage = (long)L.C * L.H * L.W, outImage = (long)L.M * L.P;
        int outer = ConvImplicitGemm.OuterImages(n);
        int rows = Math.Clamp(ColumnBudget / Math.Max(1, L.K * L.OW), 1, L.OH);
        long colFloats = (long)L.K * rows * L.OW;
        nint agy = (nint)gy, aw = (nint)w, agx = (nint)gx;
        Work.For(outer, 1, (start, end) =>
        {
            using var col = ConvScratch.Rent(ConvScratchRole.Columns, colFloats);
            using var pad = ConvScratch.Rent(ConvScratchRole.PaddedGradient, L.BufferFloats);
            for (int i = start; i < end; i++)
                DataImage(L, (float*)agy + i * outImage, (float*)aw, (float*)agx + i * inImage, rows, col.Pointer, pad.Pointer, parallel: false);
        });
        if (outer == n) return;
        using var colBuf = ConvScratch.Rent(ConvScratchRole.Columns, colFloats);
        using var padBuf = ConvScratch.Rent(ConvScratchRole.PaddedGradient, L.BufferFloats);
        for (int i = outer; i < n; i++)
            DataImage(L, gy + i * outImage, w, gx + i * inImage, rows, colBuf.Pointer, padBuf.Pointer, parallel: true);
    }

    private static void DataImage(ConvImplicitGemmLayout L, float* gy, float* w, float* gx, int rows, float* col, float* gxpad, bool parallel)
    {
        new Span<float>(gxpad, (int)L.BufferFloats).Clear();
        for (int oh0 = 0; oh0 < L.OH; oh0 += rows)
        {
            int r = Math.Min(rows, L.OH - oh0);
            int cols = r * L.OW;
            Gemm.Sgemm(true, false, L.K, cols, L.M, 1f, w, L.K, gy + oh0 * L.OW, L.P, 0f, col, cols, parallel);
            ConvImplicitGemmCol2Im.Col2Im(L, col, cols, oh0, r, gxpad);
        }
        ConvImplicitGemmCol2Im.Crop(L, gxpad, gx);
    }
}
