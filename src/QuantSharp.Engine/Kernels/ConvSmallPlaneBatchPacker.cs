using System.Runtime.CompilerServices;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The B operand of a 2-D convolution over several images side by side with small output planes, packed straight from
/// the NCHW input: <c>B[(c·KH + kh)·KW + kw, b·P + q] = x[n₀ + b, c, oh·SH − PH + kh·DH, ow·SW − PW + kw·DW]</c> (0 in
/// the padding) for output pixel q = (oh, ow) — the column matrix <see cref="ConvBatched"/> would build with im2col,
/// whose copies of two- or four-pixel rows cost more than the GEMM on ResNet-18's last stages at 64×64. A table
/// gives, per tap, the offset in a channel plane that each output pixel reads (−1 in the padding).
/// </summary>
internal readonly unsafe struct ConvSmallPlaneBatchPacker : IGemmBPacker
{
    private readonly float* _x;
    private readonly int* _tapOffsets;
    private readonly int _taps, _p, _inSize;
    private readonly long _imageStride;

    /// <summary>Packs from <paramref name="x"/> (the chunk's first image) for geometry <paramref name="g"/>; <paramref name="tapOffsets"/> from <see cref="TapOffsets"/>.</summary>
    public ConvSmallPlaneBatchPacker(ConvGeometry g, float* x, int* tapOffsets)
    {
        _x = x;
        _tapOffsets = tapOffsets;
        _taps = g.KH * g.KW;
        _p = g.OutSize;
        _inSize = g.InSize;
        _imageStride = (long)g.C * g.InSize;
    }

    /// <summary>True for the geometries this packer takes: two spatial axes (or fewer), one group.</summary>
    public static bool Takes(ConvGeometry g) => g.G == 1 && g.ID == 1 && g.KD == 1 && g.OD == 1;

    /// <summary>offsets[t·P + q]: where in a channel plane output pixel q reads tap t, or −1 in the padding.</summary>
    public static int[] TapOffsets(ConvGeometry g)
    {
        int taps = g.KH * g.KW, p = g.OutSize;
        var offsets = new int[taps * p];
        for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
                for (int oh = 0; oh < g.OH; oh++)
                    for (int ow = 0; ow < g.OW; ow++)
                    {
                        int ih = oh * g.SH - g.PH + kh * g.DH, iw = ow * g.SW - g.PW + kw * g.DW;
                        offsets[(kh * g.KW + kw) * p + oh * g.OW + ow] = (uint)ih < (uint)g.IH && (uint)iw < (uint)g.IW ? ih * g.IW + iw : -1;
                    }
        return offsets;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int k0, int kc, int n0, int nc, float* dest)
    {
        const int nr = Gemm.NR;
        // Per panel column: the first element of its image and its output pixel.
        long* image = stackalloc long[nr];
        int* pixel = stackalloc int[nr];
        for (int j0 = 0; j0 < nc; j0 += nr)
        {
            int w = Math.Min(nr, nc - j0);
            float* d = dest + (long)j0 * kc;
            for (int j = 0; j < w; j++)
            {
                int col = n0 + j0 + j, b = col / _p;
                image[j] = b * _imageStride;
                pixel[j] = col - b * _p;
            }
            for (int kk = 0; kk < kc; kk++, d += nr)
            {
                int k = k0 + kk, c = k / _taps, t = k - c * _taps;
                int* offsets = _tapOffsets + t * _p;
                float* plane = _x + (long)c * _inSize;
                int j = 0;
                for (; j < w; j++)
                {
                    int off = offsets[pixel[j]];
                    d[j] = off < 0 ? 0f : plane[image[j] + off];
                }
                for (; j < nr; j++) d[j] = 0f;
            }
        }
    }
}
