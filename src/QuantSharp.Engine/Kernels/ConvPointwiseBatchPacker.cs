using System.Runtime.CompilerServices;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The B operand of a 1×1 convolution over several images side by side, packed straight from the NCHW input:
/// <c>B[c, b·P + p] = x[n₀ + b, c, p]</c> for the chunk's images b, channels c and P pixels per image — the column
/// matrix <see cref="ConvBatched"/> would build with im2col, without building it. A panel of <see cref="Gemm.NR"/>
/// columns covers pieces of one or more images; each piece is a contiguous run of a channel's plane.
/// </summary>
internal readonly unsafe struct ConvPointwiseBatchPacker : IGemmBPacker
{
    private readonly float* _x;
    private readonly int _p;
    private readonly long _imageStride;

    /// <summary>Packs from <paramref name="x"/> (the chunk's first image) with <paramref name="pixels"/> per plane and <paramref name="channels"/> per image.</summary>
    public ConvPointwiseBatchPacker(float* x, int pixels, int channels)
    {
        _x = x;
        _p = pixels;
        _imageStride = (long)channels * pixels;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int k0, int kc, int n0, int nc, float* dest)
    {
        const int nr = Gemm.NR;
        // A panel's columns as runs within images: (offset of the run in channel 0, panel column, length).
        long* source = stackalloc long[nr];
        int* at = stackalloc int[nr];
        int* len = stackalloc int[nr];
        for (int j0 = 0; j0 < nc; j0 += nr)
        {
            int w = Math.Min(nr, nc - j0);
            float* d = dest + (long)j0 * kc;
            int pieces = 0;
            for (int j = 0; j < w;)
            {
                int col = n0 + j0 + j, image = col / _p, pixel = col - image * _p;
                int run = Math.Min(w - j, _p - pixel);
                source[pieces] = image * _imageStride + pixel;
                at[pieces] = j;
                len[pieces] = run;
                pieces++;
                j += run;
            }
            for (int kk = 0; kk < kc; kk++, d += nr)
            {
                long channel = (long)(k0 + kk) * _p;
                for (int s = 0; s < pieces; s++) DepthwiseConv.CopyRow(_x + source[s] + channel, d + at[s], len[s]);
                for (int j = w; j < nr; j++) d[j] = 0f;
            }
        }
    }
}
