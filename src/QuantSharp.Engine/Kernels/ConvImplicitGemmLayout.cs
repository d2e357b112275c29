using System.Runtime.CompilerServices;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The zero-padded copy of one image that the implicit-GEMM packers read, and the index arithmetic over it.
/// </summary>
/// <remarks>
/// The padded image is [C, Hp, Wp] with Hp = H + padTop + padBottom, Wp = W + padLeft + padRight, so that
/// <c>xpad[c, h + padTop, w + padLeft] = x[c, h, w]</c> and every other cell is 0. The implicit im2col matrix of
/// the convolution is then <c>B[k, o] = xpad[RowOffsets[k] + PixelOffset(o)]</c> with, for k = (c·KH + kh)·KW + kw and
/// o = oh·OW + ow, <c>RowOffsets[k] = c·Hp·Wp + kh·DH·Wp + kw·DW</c> and <c>PixelOffset(o) = oh·SH·Wp + ow·SW</c>:
/// no bounds tests, because the padding is real memory. <see cref="Slack"/> zero floats follow the image so
/// that vector loads which run a little past the last pixel stay inside the buffer.
/// </remarks>
internal sealed unsafe class ConvImplicitGemmLayout
{
    /// <summary>Zero floats after the padded image (vector loads may run up to 2·NR floats past a valid cell).</summary>
    public const int Slack = 2 * Gemm.NR + 16;

    public readonly int C, H, W, M, KH, KW, SH, SW, DH, DW, PadTop, PadLeft, PadBottom, PadRight, Hp, Wp, OH, OW;

    /// <summary>GEMM depth of the forward product: C·KH·KW.</summary>
    public readonly int K;

    /// <summary>Output pixels per image: OH·OW.</summary>
    public readonly int P;

    /// <summary>Floats of one padded image (C·Hp·Wp), without the slack.</summary>
    public readonly long ImageFloats;

    /// <summary><c>RowOffsets[k] = c·Hp·Wp + kh·DH·Wp + kw·DW</c> for k = (c·KH + kh)·KW + kw; pinned.</summary>
    public readonly int[] RowOffsets;

    /// <summary>Layout of a 2-D convolution geometry (leading depth axis of size 1).</summary>
    public ConvImplicitGemmLayout(ConvGeometry g, int padBottom, int padRight)
    {
        C = g.C; H = g.IH; W = g.IW; M = g.M;
        KH = g.KH; KW = g.KW; SH = g.SH; SW = g.SW; DH = g.DH; DW = g.DW;
        PadTop = g.PH; PadLeft = g.PW; PadBottom = padBottom; PadRight = padRight;
        Hp = H + PadTop + PadBottom;
        Wp = W + PadLeft + PadRight;
        OH = g.OH; OW = g.OW;
        K = C * KH * KW;
        P = OH * OW;
        ImageFloats = (long)C * Hp * Wp;
        if (ImageFloats + Slack > int.MaxValue)
            throw new ShapeException($"ConvImplicitGemm: argument 'input' expected a padded image below 2^31 floats, got {ImageFloats}");
        RowOffsets = GC.AllocateArray<int>(K, pinned: true);
        int plane = Hp * Wp;
        for (int c = 0, k = 0; c < C; c++)
            for (int kh = 0; kh < KH; kh++)
                for (int kw = 0; kw < KW; kw++, k++)
                    RowOffsets[k] = c * plane + kh * DH * Wp + kw * DW;
    }

    /// <summary>Floats a per-thread padded-image buffer needs (image plus slack).</summary>
    public long BufferFloats => ImageFloats + Slack;

    /// <summary>Offset of output pixel o = oh·OW + ow in the padded plane: oh·SH·Wp + ow·SW.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PixelOffset(int o)
    {
        int oh = o / OW;
        return oh * SH * Wp + (o - oh * OW) * SW;
    }

    /// <summary>Writes the zero-padded copy of image <paramref name="x"/> ([C, H, W]) and the zero slack into <paramref name="dest"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pad(float* x, float* dest)
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
        new Span<float>(dest + ImageFloats, Slack).Clear();
    }
}
