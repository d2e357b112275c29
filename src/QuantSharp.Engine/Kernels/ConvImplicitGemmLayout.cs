using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The zero-padded, stride-phase-split copy of one image that the implicit-GEMM packers read, and the index
/// arithmetic over it. In this buffer every convolution is a stride-1 convolution: a run of output pixels along a
/// row is a contiguous run of cells.
/// </summary>
/// <remarks>
/// <para>The padded image is [C, Hp, Wp] with Hp = H + padTop + padBottom, Wp = W + padLeft + padRight and
/// <c>xpad[c, h + padTop, w + padLeft] = x[c, h, w]</c>, every other cell 0. It is stored split into SH·SW phases
/// of Hq × Wq cells (Hq = ⌈Hp/SH⌉, Wq = ⌈Wp/SW⌉): cell (h, w) of channel c lives at
/// <c>Offset(c, h, w) = ((c·SH + h mod SH)·SW + w mod SW)·Hq·Wq + (h div SH)·Wq + w div SW</c>. For stride 1 that is
/// the plain padded image.</para>
/// <para>Tap (kh, kw) of output pixel (oh, ow) reads padded cell (oh·SH + kh·DH, ow·SW + kw·DW), whose offset splits
/// into a part of the tap and a part of the pixel: the implicit im2col matrix is
/// <c>B[k, o] = buffer[RowOffsets[k] + PixelOffset(o)]</c> with k = (c·KH + kh)·KW + kw, o = oh·OW + ow,
/// <c>RowOffsets[k] = Offset(c, kh·DH, kw·DW)</c> and <c>PixelOffset(o) = oh·Wq + ow</c> (<see cref="RowStep"/> = Wq).
/// No bounds tests are needed because the padding is real memory; <see cref="Slack"/> zero floats follow the
/// image so that vector loads which run a little past the last cell stay inside the buffer.</para>
/// </remarks>
internal sealed unsafe class ConvImplicitGemmLayout
{
    /// <summary>Zero floats after the image (vector loads may run up to 2·NR floats past a valid cell).</summary>
    public const int Slack = 2 * Gemm.NR + 16;

    public readonly int C, H, W, M, KH, KW, SH, SW, DH, DW, PadTop, PadLeft, PadBottom, PadRight, Hp, Wp, OH, OW;

    /// <summary>Rows and columns of one stride phase: ⌈Hp/SH⌉ and ⌈Wp/SW⌉.</summary>
    public readonly int Hq, Wq;

    /// <summary>GEMM depth of the forward product: C·KH·KW.</summary>
    public readonly int K;

    /// <summary>Output pixels per image: OH·OW.</summary>
    public readonly int P;

    /// <summary>Floats of one stored image (C·SH·SW·Hq·Wq), without the slack.</summary>
    public readonly long ImageFloats;

    /// <summary><c>RowOffsets[k] = Offset(c, kh·DH, kw·DW)</c> for k = (c·KH + kh)·KW + kw.</summary>
    public readonly int[] RowOffsets;

    /// <summary>Layout of a 2-D convolution geometry (leading depth axis of size 1).</summary>
    public ConvImplicitGemmLayout(ConvGeometry g, int padBottom, int padRight)
    {
        C = g.C; H = g.IH; W = g.IW; M = g.M;
        KH = g.KH; KW = g.KW; SH = g.SH; SW = g.SW; DH = g.DH; DW = g.DW;
        PadTop = g.PH; PadLeft = g.PW; PadBottom = padBottom; PadRight = padRight;
        Hp = H + PadTop + PadBottom;
        Wp = W + PadLeft + PadRight;
        Hq = (Hp + SH - 1) / SH;
        Wq = (Wp + SW - 1) / SW;
        OH = g.OH; OW = g.OW;
        K = C * KH * KW;
        P = OH * OW;
        ImageFloats = (long)C * SH * SW * Hq * Wq;
        if (ImageFloats + Slack > int.MaxValue)
            throw new ShapeException($"ConvImplicitGemm: argument 'input' expected a padded image below 2^31 floats, got {ImageFloats}");
        RowOffsets = new int[K];
        for (int c = 0, k = 0; c < C; c++)
            for (int kh = 0; kh < KH; kh++)
                for (int kw = 0; kw < KW; kw++, k++)
                    RowOffsets[k] = Offset(c, kh * DH, kw * DW);
    }

    /// <summary>
    /// A stride-1 layout over an image [C, H, W] padded by the given amounts, with an explicit list of im2col row offsets
    /// (cells of the padded image, k-major) and an output of outH × outW pixels read at <c>oh·Wp + ow</c>: the phase
    /// sub-convolutions of backward-data (see <see cref="ConvImplicitGemmBackward.DataByPhases"/>).
    /// </summary>
    public ConvImplicitGemmLayout(int c, int h, int w, int padTop, int padLeft, int padBottom, int padRight, int[] rowOffsets, int outH, int outW)
    {
        C = c; H = h; W = w; M = 0;
        KH = KW = SH = SW = DH = DW = 1;
        PadTop = padTop; PadLeft = padLeft; PadBottom = padBottom; PadRight = padRight;
        Hp = Hq = H + PadTop + PadBottom;
        Wp = Wq = W + PadLeft + PadRight;
        OH = outH; OW = outW;
        K = rowOffsets.Length;
        P = OH * OW;
        ImageFloats = (long)C * Hp * Wp;
        if (ImageFloats + Slack > int.MaxValue)
            throw new ShapeException($"ConvImplicitGemm: argument 'gradOutput' expected a padded image below 2^31 floats, got {ImageFloats}");
        RowOffsets = rowOffsets;
    }

    /// <summary>Floats a per-thread image buffer needs (image plus slack).</summary>
    public long BufferFloats => ImageFloats + Slack;

    /// <summary>Distance between vertically adjacent output pixels in the buffer (Wq).</summary>
    public int RowStep => Wq;

    /// <summary>Buffer offset of padded cell (h, w) of channel c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Offset(int c, int h, int w) =>
        ((c * SH + h % SH) * SW + w % SW) * Hq * Wq + h / SH * Wq + w / SW;

    /// <summary>Offset of output pixel o = oh·OW + ow relative to its tap's row offset: oh·Wq + ow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PixelOffset(int o)
    {
        int oh = o / OW;
        return oh * Wq + (o - oh * OW);
    }

    /// <summary>Writes the padded, phase-split copy of image <paramref name="x"/> ([C, H, W]) and the zero slack into <paramref name="dest"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pad(float* x, float* dest)
    {
        PadChannels(x, dest, 0, C);
        new Span<float>(dest + ImageFloats, Slack).Clear();
    }

    /// <summary>
    /// <see cref="Pad"/> split over the cores by channels (each channel's cells are written by one worker), for an
    /// image processed with a parallel GEMM.
    /// </summary>
    public void PadParallel(float* x, float* dest)
    {
        nint ax = (nint)x, ad = (nint)dest;
        Threading.Work.For(C, Math.Max(1, (int)(16384 / Math.Max(1L, (long)Hp * Wp))), (c0, c1) => PadChannels((float*)ax, (float*)ad, c0, c1));
        new Span<float>(dest + ImageFloats, Slack).Clear();
    }

    /// <summary>Channels [c0, c1) of <see cref="Pad"/>.</summary>
    private void PadChannels(float* x, float* dest, int c0, int c1)
    {
        if (SH == 1 && SW == 1) PadStride1(x, dest, c0, c1);
        else PadPhases(x, dest, c0, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PadStride1(float* x, float* dest, int c0, int c1)
    {
        int plane = Hp * Wp;
        for (int c = c0; c < c1; c++)
        {
            float* d = dest + (long)c * plane;
            float* s = x + (long)c * H * W;
            new Span<float>(d, PadTop * Wp).Clear();
            d += PadTop * Wp;
            for (int h = 0; h < H; h++, d += Wp, s += W)
            {
                for (int i = 0; i < PadLeft; i++) d[i] = 0f;
                CopyRow(s, d + PadLeft, W);
                for (int i = PadLeft + W; i < Wp; i++) d[i] = 0f;
            }
            new Span<float>(d, PadBottom * Wp).Clear();
        }
    }

    /// <summary>Copies n floats; rows of 16 or more by 512-bit loads and stores, the last one overlapping (no call per row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(float* s, float* d, int n)
    {
        if (n < 16 || !Vector512.IsHardwareAccelerated)
        {
            new ReadOnlySpan<float>(s, n).CopyTo(new Span<float>(d, n));
            return;
        }
        int i = 0;
        for (; i + 16 < n; i += 16) Vector512.Store(Vector512.Load(s + i), d + i);
        Vector512.Store(Vector512.Load(s + n - 16), d + n - 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PadPhases(float* x, float* dest, int c0, int c1)
    {
        int phase = Hq * Wq, width = Wq * SW;
        // One padded row (zeros, data, zeros up to Wq·SW cells) is built in a scratch row, then split into its SW phases.
        float[]? heapRow = width + 16 > 4096 ? new float[width + 16] : null;
        float* stackRow = stackalloc float[heapRow is null ? width + 16 : 0];
        fixed (float* pHeap = heapRow)
        {
            float* row = heapRow is null ? stackRow : pHeap;
            new Span<float>(row, width + 16).Clear();
            for (int c = c0; c < c1; c++)
                for (int hs = 0; hs < Hq * SH; hs++)
                {
                    int a = hs % SH, i = hs / SH, h = hs - PadTop;
                    float* d0 = dest + (long)(c * SH + a) * SW * phase + (long)i * Wq;
                    if ((uint)h >= (uint)H)
                    {
                        for (int b = 0; b < SW; b++) new Span<float>(d0 + (long)b * phase, Wq).Clear();
                        continue;
                    }
                    CopyRow(x + ((long)c * H + h) * W, row + PadLeft, W); // the pad cells of the scratch row stay 0
                    SplitPhases(row, d0, phase, Wq, SW);
                }
        }
    }

    /// <summary>Phase b of the scratch row (cells j·SW + b, j &lt; wq) into <c>d + b·phase</c>; SW = 2 by 512-bit two-source permutes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SplitPhases(float* row, float* d, int phase, int wq, int sw)
    {
        int j = 0;
        if (sw == 2 && Avx512F.IsSupported)
        {
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            var odd = even + Vector512<int>.One;
            float* d1 = d + phase;
            for (; j + 16 <= wq; j += 16)
            {
                var v0 = Vector512.Load(row + 2 * j);
                var v1 = Vector512.Load(row + 2 * j + 16);
                Vector512.Store(Avx512F.PermuteVar16x32x2(v0, even, v1), d + j);
                Vector512.Store(Avx512F.PermuteVar16x32x2(v0, odd, v1), d1 + j);
            }
        }
        for (; j < wq; j++)
            for (int b = 0; b < sw; b++) d[(long)b * phase + j] = row[j * sw + b];
    }
}
