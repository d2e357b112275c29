using System.Runtime.CompilerServices;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Col2im of backward-data into the zero-padded, phase-split gradient image (<see cref="ConvImplicitGemmLayout"/>),
/// and the crop back to the unpadded gradient.
/// </summary>
/// <remarks>
/// For a block of output rows [oh0, oh0 + rows): <c>gxpad[RowOffsets[k] + PixelOffset(o)] += col[k, o − oh0·OW]</c>,
/// k in row order, then o ascending (the order of <see cref="ConvImplicitGemmReference.Col2Im"/>, so results are
/// bit-identical). In the phase-split layout every stride is 1 and the target is padded, so each output row of each
/// im2col row is one contiguous vector add without bounds tests.
/// </remarks>
internal static unsafe class ConvImplicitGemmCol2Im
{
    /// <summary>Adds the column block <paramref name="col"/> [K × rows·OW] (row stride <paramref name="ldCol"/>) into <paramref name="gxpad"/>.</summary>
    /// <param name="portable">Scalar adds instead of vector adds (tests compare both).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Col2Im(ConvImplicitGemmLayout L, float* col, int ldCol, int oh0, int rows, float* gxpad, bool portable = false)
    {
        int ow = L.OW, rowStep = L.RowStep;
        for (int k = 0; k < L.K; k++)
        {
            float* src = col + (long)k * ldCol;
            float* dstRow = gxpad + L.RowOffsets[k] + (long)oh0 * rowStep;
            for (int r = 0; r < rows; r++, src += ow, dstRow += rowStep)
            {
                if (!portable) ConvIm2Col.AddInto(dstRow, src, ow);
                else for (int o = 0; o < ow; o++) dstRow[o] += src[o];
            }
        }
    }

    /// <summary>Copies the image cells of the padded, phase-split gradient into the unpadded gradient <paramref name="gx"/> [C, H, W].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Crop(ConvImplicitGemmLayout L, float* gxpad, float* gx)
    {
        for (int c = 0; c < L.C; c++)
            for (int h = 0; h < L.H; h++)
            {
                float* d = gx + ((long)c * L.H + h) * L.W;
                if (L.SW == 1)
                {
                    new ReadOnlySpan<float>(gxpad + L.Offset(c, h + L.PadTop, L.PadLeft), L.W).CopyTo(new Span<float>(d, L.W));
                    continue;
                }
                for (int b = 0; b < L.SW; b++)
                {
                    // Input columns w ≡ b − padLeft (mod SW) are consecutive cells of phase column (w + padLeft) mod SW.
                    int w0 = ((b - L.PadLeft) % L.SW + L.SW) % L.SW;
                    if (w0 >= L.W) continue;
                    float* s = gxpad + L.Offset(c, h + L.PadTop, w0 + L.PadLeft);
                    for (int w = w0, j = 0; w < L.W; w += L.SW, j++) d[w] = s[j];
                }
            }
    }
}
