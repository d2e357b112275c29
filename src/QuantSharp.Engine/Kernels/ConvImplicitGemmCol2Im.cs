using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Col2im of backward-data into a zero-padded gradient image, and the crop back to the unpadded gradient.
/// </summary>
/// <remarks>
/// For a block of output rows [oh0, oh0 + rows): <c>gxpad[RowOffsets[k] + PixelOffset(o)] += col[k, o − oh0·OW]</c>,
/// k in row order, then o ascending (the order of <see cref="ConvImplicitGemmReference.Col2Im"/>, so results are
/// bit-identical). Because the target is padded there are no bounds tests: a horizontal stride of 1 is a vector add
/// of a contiguous run; a stride of 2 spreads 16 columns over 32 cells with one two-source permute against zero
/// (the odd cells receive +0, which leaves them unchanged since a buffer that starts at +0 never holds −0);
/// other strides add one cell at a time.
/// </remarks>
internal static unsafe class ConvImplicitGemmCol2Im
{
    /// <summary>Adds the column block <paramref name="col"/> [K × rows·OW] (row stride <paramref name="ldCol"/>) into <paramref name="gxpad"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Col2Im(ConvImplicitGemmLayout L, float* col, int ldCol, int oh0, int rows, float* gxpad, bool portable = false)
    {
        bool avx512 = !portable && Avx512F.IsSupported;
        int ow = L.OW, sw = L.SW;
        int rowStep = L.SH * L.Wp;
        var idxLo = Vector512.Create(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16);
        var idxHi = Vector512.Create(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16);
        for (int k = 0; k < L.K; k++)
        {
            float* src = col + (long)k * ldCol;
            float* dstRow = gxpad + L.RowOffsets[k] + oh0 * rowStep;
            for (int r = 0; r < rows; r++, src += ow, dstRow += rowStep)
            {
                if (sw == 1)
                {
                    ConvIm2Col.AddInto(dstRow, src, ow);
                    continue;
                }
                int o = 0;
                if (sw == 2 && avx512)
                {
                    // Each pair writes cells 2·o … 2·o + 31, one past the last target 2·(o + 15); that cell gets +0 and
                    // lies in the padded row, the next row, or the buffer's slack.
                    for (; o + 16 <= ow; o += 16)
                    {
                        var s = Vector512.Load(src + o);
                        float* d = dstRow + 2 * o;
                        Vector512.Store(Vector512.Load(d) + Avx512F.PermuteVar16x32x2(s, idxLo, Vector512<float>.Zero), d);
                        Vector512.Store(Vector512.Load(d + 16) + Avx512F.PermuteVar16x32x2(s, idxHi, Vector512<float>.Zero), d + 16);
                    }
                }
                for (; o < ow; o++) dstRow[(long)o * sw] += src[o];
            }
        }
    }

    /// <summary>Copies the interior of the padded gradient image into the unpadded gradient <paramref name="gx"/> [C, H, W].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Crop(ConvImplicitGemmLayout L, float* gxpad, float* gx)
    {
        int plane = L.Hp * L.Wp;
        for (int c = 0; c < L.C; c++)
        {
            float* s = gxpad + (long)c * plane + L.PadTop * L.Wp + L.PadLeft;
            float* d = gx + (long)c * L.H * L.W;
            for (int h = 0; h < L.H; h++, s += L.Wp, d += L.W)
                new ReadOnlySpan<float>(s, L.W).CopyTo(new Span<float>(d, L.W));
        }
    }
}
