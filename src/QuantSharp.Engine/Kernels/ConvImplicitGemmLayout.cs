using System.Runtime.CompilerServices;

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
        if (SH == 1 && SW == 1) PadStride1(x, dest);
        else PadPhases(x, dest);
        new Span<float>(dest + ImageFloats, Slack).Clear();
    }

    private void PadStride1(float* x, float* dest)
    {
        int plane = Hp * Wp;
        for (int c = 0; c < C; c++)
        {
            float* d = dest + (long)c * plane;
            float* s = x + (long)c * H * W;
            new Span<float>(d, PadTop * Wp).Clear();
            d += PadTop * Wp;
            for (int h = 0; h < H; h++, d += Wp, s += W)
            {
                for (int i = 0; i < PadLeft; i++) d[i] = 0f;
                new ReadOnlySpan<float>(s, W).CopyTo(new Span<float>(d + PadLeft, W));
                for (int i = PadLeft + W; i < Wp; i++) d[i] = 0f;
            }
            new Span<float>(d, PadBottom * Wp).Clear();
        }
    }

    private void PadPhases(float* x, float* dest)
    {
        int phase = Hq * Wq;
        for (int c = 0; c < C; c++)
            for (int hs = 0; hs < Hq * SH; hs++)
            {
                int a = hs % SH, i = hs / SH, h = hs - PadTop;
                bool dataRow = (uint)h < (uint)H;
                float* s = x + ((long)c * H + h) * W;
                for (int b = 0; b < SW; b++)
                {
                    float* d = dest + (long)((c * SH + a) * SW + b) * phase + (long)i * Wq;
                    if (!dataRow)
                    {
                        new Span<float>(d, Wq).Clear();
                        continue;
                    }
                    // Column j of phase b is padded column j·SW + b, i.e. input column j·SW + b − padLeft.
                    for (int j = 0, w = b - PadLeft; j < Wq; j++, w += SW)
                        d[j] = (uint)w < (uint)W ? s[w] : 0f;
                }
            }
    }
}
