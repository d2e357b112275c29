using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The backward passes of <see cref="ConvImplicitGemm"/> that are not a forward convolution: the weight gradient
/// (implicit GEMM with the transposed im2col packer) and backward-data through columns (GEMM + col2im) for strides
/// above 1.
/// </summary>
internal static unsafe class ConvImplicitGemmBackward
{
    /// <summary>Floats of one column block of backward-data (≈ 1 MiB, so GEMM output and col2im input stay in L2).</summary>
    internal const int ColumnBudget = 1 << 18;

    /// <summary>
    /// <c>gw[M × K] = Σ_n gY_n[M × P] · B_nᵀ</c> (gw fully overwritten). Images spread over the cores accumulate into
    /// one partial per work block, added in block order; the remaining images accumulate into gw with a parallel GEMM.
    /// </summary>
    public static void Weight(ConvImplicitGemmLayout L, int n, float* x, float* gy, float* gw)
    {
        long inImage = (long)L.C * L.H * L.W, outImage = (long)L.M * L.P;
        int mk = L.M * L.K;
        int outer = ConvImplicitGemm.OuterImages(n);
        var partials = new List<(int Start, float[] Sum)>();
        nint ax = (nint)x, agy = (nint)gy;
        Work.For(outer, 1, (start, end) =>
        {
            var acc = GC.AllocateUninitializedArray<float>(mk, pinned: true);
            using var pad = ConvScratch.Rent(ConvScratchRole.PaddedImage, L.BufferFloats);
            fixed (float* pacc = acc)
                for (int i = start; i < end; i++)
                    WeightImage(L, (float*)ax + i * inImage, (float*)agy + i * outImage, pacc, i == start ? 0f : 1f, pad.Pointer, parallel: false);
            lock (partials) partials.Add((start, acc));
        });
        if (outer > 0)
        {
            partials.Sort((a, b) => a.Start.CompareTo(b.Start));
            new ReadOnlySpan<float>(partials[0].Sum).CopyTo(new Span<float>(gw, mk));
            for (int i = 1; i < partials.Count; i++)
                fixed (float* ps = partials[i].Sum) ConvIm2Col.AddInto(gw, ps, mk);
        }
        else if (n == 0) new Span<float>(gw, mk).Clear();
        if (outer == n) return;
        using var buf = ConvScratch.Rent(ConvScratchRole.PaddedImage, L.BufferFloats);
        for (int i = outer; i < n; i++)
            WeightImage(L, x + i * inImage, gy + i * outImage, gw, i == 0 ? 0f : 1f, buf.Pointer, parallel: true);
    }

    private static void WeightImage(ConvImplicitGemmLayout L, float* x, float* gy, float* gw, float beta, float* pad, bool parallel)
    {
        L.Pad(x, pad);
        var packer = new ConvImplicitGemmWeightPacker(L, pad);
        Gemm.SgemmPackedB(L.M, L.K, L.P, gy, L.P, false, ref packer, gw, L.K, beta, parallel);
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
