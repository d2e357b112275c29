using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Lowering of one image and one group of a convolution to a matrix: im2col (gather) and col2im (scatter-add).
/// </summary>
/// <remarks>
/// The column matrix of one group has <c>C/G · kd·kh·kw</c> rows (row = ((c·KD + kd)·KH + kh)·KW + kw) and
/// <c>OD·OH·OW</c> columns: <c>col[row, o] = x[c, o·s − pBegin + k·d]</c>, 0 where that index falls in the padding.
/// Col2im is its adjoint: <c>gx[c, o·s − pBegin + k·d] += col[row, o]</c>. With stride 1 along width each output row
/// is one contiguous run of the input row (a block copy / a vector add); stride 2 takes the even lanes of two vectors
/// (AVX-512 two-table permute); other strides gather element by element. Callers may lower a band of output rows at a
/// time (the column range of those rows).
/// </remarks>
internal static unsafe class ConvIm2Col
{
    /// <summary>
    /// Fills <paramref name="col"/> [ColRows × rowCount·OW] with the output rows [rowStart, rowStart + rowCount) (an output
    /// row is one (od, oh) pair, OW pixels) from the group's channels starting at <paramref name="x"/>.
    /// Row r of col starts at <c>col + r·ld</c> (<paramref name="ld"/> = 0: rowCount·OW, the rows packed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Im2Col(ConvGeometry g, float* x, float* col, int rowStart, int rowCount, long ld = 0)
    {
        int ow = g.OW;
        long p = ld > 0 ? ld : (long)rowCount * ow;
        for (int c = 0; c < g.Cg; c++)
        {
            float* xc = x + (long)c * g.InSize;
            for (int kd = 0; kd < g.KD; kd++)
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        float* dst = col + ((((long)c * g.KD + kd) * g.KH + kh) * g.KW + kw) * p;
                        int iw0 = kw * g.DW - g.PW;
                        ValidRange(iw0, g.SW, g.IW, ow, out int lo, out int hi);
                        for (int r = rowStart; r < rowStart + rowCount; r++, dst += ow)
                        {
                            int od = r / g.OH, oh = r - od * g.OH;
                            int id = od * g.SD - g.PD + kd * g.DD, ih = oh * g.SH - g.PH + kh * g.DH;
                            if ((uint)id >= (uint)g.ID || (uint)ih >= (uint)g.IH || lo >= hi)
                            {
                                new Span<float>(dst, ow).Clear();
                                continue;
                            }
                            float* src = xc + ((long)id * g.IH + ih) * g.IW + iw0;
                            if (lo > 0) new Span<float>(dst, lo).Clear();
                            if (g.SW == 1)
                                new ReadOnlySpan<float>(src + lo, hi - lo).CopyTo(new Span<float>(dst + lo, hi - lo));
                            else if (g.SW == 2)
                                GatherStride2(src, dst, lo, hi, g.IW - 1 - iw0);
                            else
                                for (int o = lo; o < hi; o++) dst[o] = src[(long)o * g.SW];
                            if (hi < ow) new Span<float>(dst + hi, ow - hi).Clear();
                        }
                    }
        }
    }

    /// <summary>
    /// Adds <paramref name="col"/> [ColRows × rowCount·OW], holding output rows [rowStart, rowStart + rowCount), into the
    /// group's input-gradient channels at <paramref name="gx"/> (which the caller zeroes).
    /// Row r of col starts at <c>col + r·ld</c> (<paramref name="ld"/> = 0: rowCount·OW, the rows packed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Col2Im(ConvGeometry g, float* col, float* gx, int rowStart, int rowCount, long ld = 0)
    {
        int ow = g.OW;
        long p = ld > 0 ? ld : (long)rowCount * ow;
        for (int c = 0; c < g.Cg; c++)
        {
            float* xc = gx + (long)c * g.InSize;
            for (int kd = 0; kd < g.KD; kd++)
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        float* src = col + ((((long)c * g.KD + kd) * g.KH + kh) * g.KW + kw) * p;
                        int iw0 = kw * g.DW - g.PW;
                        ValidRange(iw0, g.SW, g.IW, ow, out int lo, out int hi);
                        for (int r = rowStart; r < rowStart + rowCount; r++, src += ow)
                        {
                            int od = r / g.OH, oh = r - od * g.OH;
                            int id = od * g.SD - g.PD + kd * g.DD, ih = oh * g.SH - g.PH + kh * g.DH;
                            if ((uint)id >= (uint)g.ID || (uint)ih >= (uint)g.IH || lo >= hi) continue;
                            float* dst = xc + ((long)id * g.IH + ih) * g.IW + iw0;
                            if (g.SW == 1) AddInto(dst + lo, src + lo, hi - lo);
                            else
                                for (int o = lo; o < hi; o++) dst[(long)o * g.SW] += src[o];
                        }
                    }
        }
    }

    /// <summary>
    /// <c>dst[o] = src[2·o]</c> for o in [lo, hi); <paramref name="lastIndex"/> is the last readable index of src.
    /// With AVX-512 each 16 outputs are the even lanes of two loads (one two-table permute).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void GatherStride2(float* src, float* dst, int lo, int hi, int lastIndex)
    {
        int o = lo;
        if (Avx512F.IsSupported)
        {
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            for (; o + 16 <= hi && 2 * o + 31 <= lastIndex; o += 16)
            {
                float* s = src + 2L * o;
                Avx512F.PermuteVar16x32x2(Vector512.Load(s), even, Vector512.Load(s + 16)).Store(dst + o);
            }
        }
        for (; o < hi; o++) dst[o] = src[2L * o];
    }

    /// <summary>Output columns [lo, hi) whose input index o·stride + iw0 lies in [0, inSize).</summary>
    internal static void ValidRange(int iw0, int stride, int inSize, int outSize, out int lo, out int hi)
    {
        lo = iw0 >= 0 ? 0 : (-iw0 + stride - 1) / stride;
        int last = inSize - 1 - iw0;
        hi = last < 0 ? 0 : Math.Min(outSize, last / stride + 1);
        if (lo > hi) lo = hi;
    }

    /// <summary><c>dst[i] += src[i]</c> for i in [0, n), vectorized.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AddInto(float* dst, float* src, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
                Vector512.Store(Vector512.Load(dst + i) + Vector512.Load(src + i), dst + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }
}
