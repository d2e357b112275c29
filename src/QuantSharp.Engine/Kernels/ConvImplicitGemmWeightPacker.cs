using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The backward-weight implicit-GEMM packer: op(B) is the transposed im2col matrix of one padded image
/// (P = OH·OW rows, K = C·KH·KW columns), so that <c>gW[M × K] += gY[M × P] · op(B)</c>.
/// </summary>
/// <remarks>
/// <c>dest[kk·NR + j] = xpad[RowOffsets[n0 + j] + PixelOffset(k0 + kk)]</c> (see <see cref="ConvImplicitGemmLayout"/>):
/// one panel row is the same 32 im2col rows at one pixel, i.e. a gather with the panel's 32 row offsets (fixed for the
/// panel) from a base that walks the output pixels: four 8-lane AVX2 gathers per panel row, or a scalar loop over the
/// same offsets.
/// </remarks>
internal readonly unsafe struct ConvImplicitGemmWeightPacker : IGemmBPacker
{
    private readonly ConvImplicitGemmLayout _layout;
    private readonly float* _x;
    private readonly bool _gather;

    /// <param name="layout">Geometry of the padded image.</param>
    /// <param name="paddedImage">The padded image (<see cref="ConvImplicitGemmLayout.Pad"/>), with its slack.</param>
    /// <param name="portable">Force the path of machines without AVX2 (scalar gathers); tests compare both.</param>
    public ConvImplicitGemmWeightPacker(ConvImplicitGemmLayout layout, float* paddedImage, bool portable = false)
    {
        _layout = layout;
        _x = paddedImage;
        _gather = !portable && Avx2.IsSupported;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int k0, int kc, int n0, int nc, float* dest)
    {
        const int nr = Gemm.NR;
        var L = _layout;
        int* offsets = stackalloc int[nr];
        for (int j0 = 0; j0 < nc; j0 += nr)
        {
            int w = Math.Min(nr, nc - j0);
            for (int j = 0; j < nr; j++) offsets[j] = j < w ? L.RowOffsets[n0 + j0 + j] : 0;
            float* d = dest + (long)j0 * kc;
            int oh = k0 / L.OW, ow = k0 - oh * L.OW;
            if (_gather) Gather(L, _x, offsets, w, kc, oh, ow, d);
            else ScalarGather(L, _x, offsets, w, kc, oh, ow, d);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gather(ConvImplicitGemmLayout L, float* x, int* offsets, int w, int kc, int oh, int ow, float* d)
    {
        var i0 = Vector256.Load(offsets);
        var i1 = Vector256.Load(offsets + 8);
        var i2 = Vector256.Load(offsets + 16);
        var i3 = Vector256.Load(offsets + 24);
        int rowStep = L.SH * L.Wp, sw = L.SW, ow1 = L.OW;
        float* rowBase = x + oh * rowStep;
        // Columns past w have offset 0 (a valid cell) and are zeroed after the gathers.
        float* zeroFrom = d + w;
        for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
        {
            float* s = rowBase + ow * sw;
            Vector256.Store(Avx2.GatherVector256(s, i0, 4), d);
            Vector256.Store(Avx2.GatherVector256(s, i1, 4), d + 8);
            Vector256.Store(Avx2.GatherVector256(s, i2, 4), d + 16);
            Vector256.Store(Avx2.GatherVector256(s, i3, 4), d + 24);
            if (++ow == ow1)
            {
                ow = 0;
                rowBase += rowStep;
            }
        }
        if (w < Gemm.NR)
            for (int kk = 0; kk < kc; kk++, zeroFrom += Gemm.NR) new Span<float>(zeroFrom, Gemm.NR - w).Clear();
    }

    /// <summary>The portable path: the same gather one element at a time.</summary>
    private static void ScalarGather(ConvImplicitGemmLayout L, float* x, int* offsets, int w, int kc, int oh, int ow, float* d)
    {
        int rowStep = L.SH * L.Wp;
        float* rowBase = x + oh * rowStep;
        for (int kk = 0; kk < kc; kk++, d += Gemm.NR)
        {
            float* s = rowBase + ow * L.SW;
            int j = 0;
            for (; j < w; j++) d[j] = s[offsets[j]];
            for (; j < Gemm.NR; j++) d[j] = 0f;
            if (++ow == L.OW)
            {
                ow = 0;
                rowBase += rowStep;
            }
        }
    }
}
