namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Scalar references for the pieces of the implicit-GEMM convolution, written from the definitions on the
/// unpadded image (with bounds tests): the specification the vector packers and col2im are tested against.
/// </summary>
/// <remarks>
/// im2col: <c>B[k, o] = x[c, oh·SH − padTop + kh·DH, ow·SW − padLeft + kw·DW]</c> (0 outside the image) with
/// k = (c·KH + kh)·KW + kw and o = oh·OW + ow.
/// </remarks>
internal static unsafe class ConvImplicitGemmReference
{
    /// <summary>B[k, o] from the unpadded image <paramref name="x"/> [C, H, W].</summary>
    public static float Im2Col(ConvImplicitGemmLayout L, float* x, int k, int o)
    {
        int c = k / (L.KH * L.KW), kh = k / L.KW % L.KH, kw = k % L.KW;
        int oh = o / L.OW, ow = o % L.OW;
        int ih = oh * L.SH - L.PadTop + kh * L.DH, iw = ow * L.SW - L.PadLeft + kw * L.DW;
        return (uint)ih < (uint)L.H && (uint)iw < (uint)L.W ? x[((long)c * L.H + ih) * L.W + iw] : 0f;
    }

    /// <summary>The forward packer's output: panels of B rows [k0, k0+kc) × columns [n0, n0+nc), zero past nc.</summary>
    public static void PackForward(ConvImplicitGemmLayout L, float* x, int k0, int kc, int n0, int nc, float* dest)
    {
        const int nr = Gemm.NR;
        for (int j0 = 0; j0 < nc; j0 += nr)
            for (int kk = 0; kk < kc; kk++)
                for (int j = 0; j < nr; j++)
                    dest[(long)j0 * kc + kk * nr + j] = j0 + j < nc ? Im2Col(L, x, k0 + kk, n0 + j0 + j) : 0f;
    }

    /// <summary>The backward-weight packer's output: panels of Bᵀ rows (pixels) [k0, k0+kc) × columns (im2col rows) [n0, n0+nc).</summary>
    public static void PackWeight(ConvImplicitGemmLayout L, float* x, int k0, int kc, int n0, int nc, float* dest)
    {
        const int nr = Gemm.NR;
        for (int j0 = 0; j0 < nc; j0 += nr)
            for (int kk = 0; kk < kc; kk++)
                for (int j = 0; j < nr; j++)
                    dest[(long)j0 * kc + kk * nr + j] = j0 + j < nc ? Im2Col(L, x, n0 + j0 + j, k0 + kk) : 0f;
    }

    /// <summary>
    /// Col2im of output rows [oh0, oh0+rows) into the unpadded gradient <paramref name="gx"/> [C, H, W]:
    /// <c>gx[c, ih, iw] += col[k, o − oh0·OW]</c> for every in-bounds (ih, iw), k ascending then o ascending.
    /// </summary>
    public static void Col2Im(ConvImplicitGemmLayout L, float* col, int ldCol, int oh0, int rows, float* gx)
    {
        for (int k = 0; k < L.K; k++)
        {
            int c = k / (L.KH * L.KW), kh = k / L.KW % L.KH, kw = k % L.KW;
            for (int r = 0; r < rows; r++)
                for (int ow = 0; ow < L.OW; ow++)
                {
                    int ih = (oh0 + r) * L.SH - L.PadTop + kh * L.DH, iw = ow * L.SW - L.PadLeft + kw * L.DW;
                    if ((uint)ih < (uint)L.H && (uint)iw < (uint)L.W)
                        gx[((long)c * L.H + ih) * L.W + iw] += col[(long)k * ldCol + r * L.OW + ow];
                }
        }
    }
}
