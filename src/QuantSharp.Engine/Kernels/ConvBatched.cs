using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Convolution of images with small output planes (e.g. 7×7) as one GEMM over a batch of images: the im2col matrices
/// of several images side by side, so the GEMM's column dimension is images·pixels instead of a few dozen pixels.
/// Forward, backward-data and backward-weight for ungrouped convolutions of any spatial rank; <see cref="ConvReference"/>
/// is the specification.
/// </summary>
/// <remarks>
/// <para>A chunk of B images n₀…n₀+B−1 with K = C·kernel volume and P output pixels per image uses
/// <c>col[K × B·P]</c> with <c>col[k, b·P + p] = im2col(x[n₀ + b])[k, p]</c> and:
/// forward <c>Yb[M × B·P] = W[M × K] · col</c>, scattered back to <c>y[n₀ + b, m, p] = Yb[m, b·P + p] + bias[m]</c>;
/// backward-weight <c>gW += gYb · colᵀ</c> with <c>gYb[m, b·P + p] = gy[n₀ + b, m, p]</c>;
/// backward-data <c>col = Wᵀ · gYb</c>, then col2im of each image's column block into gx.</para>
/// <para>Chunks are sized so a chunk's columns fill the GEMM (≈ <see cref="TargetColumns"/>) while col stays bounded,
/// and their count is a multiple of the cores; each core runs whole chunks with its own buffers (weight-gradient
/// partials reduced in a fixed order, so results do not depend on timing). With fewer chunks than cores the
/// GEMMs themselves run in parallel.</para>
/// </remarks>
internal static unsafe class ConvBatched
{
    /// <summary>Columns (images·pixels) aimed for per chunk.</summary>
    internal const int TargetColumns = 768;

    /// <summary>Largest column matrix per chunk, in floats (8 MiB).</summary>
    internal const long ColumnCapFloats = 1 << 21;

    /// <summary>Output planes up to this many pixels take the batched path (larger ones fill a GEMM per image).</summary>
    internal const int MaxPlane = 64;

    /// <summary>Tests set this (on their own thread) to force (true) or forbid (false) the batched path; null = by size.</summary>
    [ThreadStatic] internal static bool? Force;

    /// <summary>True when the batched path should run this convolution: one group, a small output plane, and a real im2col.</summary>
    internal static bool Prefer(ConvGeometry g)
    {
        bool eligible = g.G == 1 && g.N > 0 && g.OutSize > 0 && g.ColRows > 0 && !g.IsPointwise;
        if (Force is bool f) return f && eligible;
        return eligible && g.OutSize <= MaxPlane && g.N > 1;
    }

    /// <summary>True when the forward pass should take the batched path: <see cref="Prefer"/>, or a skinny product.</summary>
    internal static bool PreferForward(ConvGeometry g) => Prefer(g) || Force is null && (Skinny(g) || PointwiseOnSmallPlanes(g));

    /// <summary>
    /// A 1×1 convolution of several images with small planes: the implicit GEMM would multiply each image's few pixels as
    /// a panel of <see cref="Gemm.NR"/> columns, most of them padding (a 2×2 plane fills 4 of 32), so the images go side
    /// by side into one GEMM instead (their copy into the column matrix is the copy the implicit GEMM makes anyway).
    /// </summary>
    internal static bool PointwiseOnSmallPlanes(ConvGeometry g) =>
        g.G == 1 && g.IsPointwise && g.N > 1 && g.OutSize > 0 && g.ColRows > 0 && g.OutSize <= MaxPointwisePlane;

    /// <summary>Output planes up to this many pixels take the batched path for 1×1 convolutions (measured on MobileNetV2 at
    /// 64×64, batch 32: 64 beat 0, 256 and 1,024; larger planes fill the implicit GEMM's panels themselves).</summary>
    internal const int MaxPointwisePlane = 64;

    /// <summary>
    /// One image whose output is a few pixels (a deep layer at batch 1): its GEMM has at most
    /// <see cref="GemmSkinny.MaxColumns"/> columns, which <see cref="GemmSkinny"/> runs at the speed the weights are read.
    /// Only for one image: the skinny product sums in another order than the packed one, and a batch must give each image
    /// the same bits whether it runs alone in a chunk of several or in the whole batch (<c>ChunkedRun</c> never makes a
    /// one-sample chunk out of a larger batch).
    /// </summary>
    internal static bool Skinny(ConvGeometry g) =>
        g.G == 1 && g.N == 1 && g.OutSize > 0 && g.OutSize <= GemmSkinny.MaxColumns && GemmSkinny.Takes(false, g.M, g.OutSize, g.ColRows);

    /// <summary>
    /// True when backward-data should take the batched path: as <see cref="Prefer"/>, and also for few input channels
    /// per group (≤ <see cref="FewChannels"/>), where the per-image backward-data GEMM has only C rows.
    /// </summary>
    internal static bool PreferBackwardData(ConvGeometry g) =>
        Prefer(g) || (Force is null && g.G == 1 && g.N > 1 && g.OutSize > 0 && !g.IsPointwise && g.C <= FewChannels);

    /// <summary>
    /// True when backward-weight should take the batched path: as <see cref="Prefer"/> except where the implicit GEMM
    /// handles the convolution (2-D), whose weight gradient packs its operands directly and measured faster than
    /// <c>gYb · colᵀ</c> (a transposed B operand) on the quickstart's 7×7 planes.
    /// </summary>
    internal static bool PreferBackwardWeight(ConvGeometry g, bool implicitGemm) => Force is not null ? Prefer(g) : Prefer(g) && !implicitGemm;

    /// <summary>Input channels up to which backward-data batches images whatever the plane size.</summary>
    internal const int FewChannels = 4;

    /// <summary>Images per chunk and number of chunks for geometry <paramref name="g"/>.</summary>
    private static (int PerChunk, int Chunks) Plan(ConvGeometry g)
    {
        int p = g.OutSize, threads = Math.Max(1, ConvImplicitGemm.Cores);
        long byCap = Math.Max(1, ColumnCapFloats / ((long)g.ColRows * p));
        int perChunk = (int)Math.Clamp((TargetColumns + p - 1) / p, 1, Math.Min(byCap, g.N));
        int chunks = (g.N + perChunk - 1) / perChunk;
        if (chunks >= threads)
        {
            // Round the chunk count up to a multiple of the cores so they finish together.
            chunks = (chunks + threads - 1) / threads * threads;
            perChunk = (g.N + chunks - 1) / chunks;
            chunks = (g.N + perChunk - 1) / perChunk;
        }
        return (perChunk, chunks);
    }

    /// <summary>y = conv(x, w) + b (y fully overwritten).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(ConvGeometry g, float* x, float* w, float* bias, float* y, ConvEpilogue? epilogue = null)
    {
        var (per, chunks) = Plan(g);
        int k = g.ColRows, p = g.OutSize, m = g.M;
        bool outer = chunks >= ConvImplicitGemm.Cores && ConvImplicitGemm.Cores > 1, skinny = Skinny(g), pointwise = g.IsPointwise && !skinny;
        // 2-D convolutions pack the GEMM's B operand straight from x (no column matrix of tiny row copies).
        bool direct = !pointwise && !skinny && ConvSmallPlaneBatchPacker.Takes(g);
        var tapOffsets = direct ? ConvSmallPlaneBatchPacker.TapOffsets(g) : [];
        nint ax = (nint)x, aw = (nint)w, ab = (nint)bias, ay = (nint)y;
        Work.For(outer ? chunks : 1, 1, (c0, c1) =>
        {
            if (!outer) c1 = chunks;
            using var col = ConvScratch.Rent(ConvScratchRole.Columns, pointwise || direct ? 0 : (long)k * per * p);
            using var yb = ConvScratch.Rent(ConvScratchRole.GradientSlice, (long)m * per * p);
            for (int c = c0; c < c1; c++)
            {
                int n0 = c * per, nb = Math.Min(per, g.N - n0), cols = nb * p;
                if (pointwise)
                {
                    // The columns are the images' planes themselves: packed straight from x, no column matrix.
                    var packer = new ConvPointwiseBatchPacker((float*)ax + (long)n0 * g.C * g.InSize, p, g.C);
                    Gemm.SgemmPackedB(m, cols, k, (float*)aw, k, false, ref packer, yb.Pointer, cols, 0f, !outer, 1f, null);
                }
                else if (direct)
                {
                    fixed (int* offsets = tapOffsets)
                    {
                        var packer = new ConvSmallPlaneBatchPacker(g, (float*)ax + (long)n0 * g.C * g.InSize, offsets);
                        Gemm.SgemmPackedB(m, cols, k, (float*)aw, k, false, ref packer, yb.Pointer, cols, 0f, !outer, 1f, null);
                    }
                }
                else
                {
                    for (int b = 0; b < nb; b++)
                        ConvIm2Col.Im2Col(g, (float*)ax + (long)(n0 + b) * g.C * g.InSize, col.Pointer + (long)b * p, 0, g.OD * g.OH, cols);
                    if (skinny) GemmSkinny.Sgemm(false, m, cols, k, 1f, (float*)aw, k, col.Pointer, cols, 0f, yb.Pointer, cols, parallel: !outer);
                    else Gemm.Sgemm(false, false, m, cols, k, 1f, (float*)aw, k, col.Pointer, cols, 0f, yb.Pointer, cols, parallel: !outer);
                }
                float* bp = (float*)ab;
                for (int b = 0; b < nb; b++)
                {
                    float* yn = (float*)ay + (long)(n0 + b) * m * p;
                    for (int o = 0; o < m; o++)
                        CopyRow(yb.Pointer + (long)o * cols + (long)b * p, yn + (long)o * p, p, bp == null ? 0f : bp[o]);
                }
                // Each core finishes its own chunks; a single chunk was computed by all cores and is finished below.
                if (outer) epilogue?.ApplyImages((float*)ay, n0, nb, m, p);
            }
        });
        if (!outer) epilogue?.ApplyAll(y, g.N, m, p);
    }

    /// <summary>gx = convᵀ(gy, w) (gx fully overwritten).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardData(ConvGeometry g, float* gy, float* w, float* gx)
    {
        var (per, chunks) = Plan(g);
        int k = g.ColRows, p = g.OutSize, m = g.M;
        bool outer = chunks >= ConvImplicitGemm.Cores && ConvImplicitGemm.Cores > 1;
        nint agy = (nint)gy, aw = (nint)w, agx = (nint)gx;
        Work.For(outer ? chunks : 1, 1, (c0, c1) =>
        {
            if (!outer) c1 = chunks;
            using var col = ConvScratch.Rent(ConvScratchRole.Columns, (long)k * per * p);
            using var gyb = ConvScratch.Rent(ConvScratchRole.GradientSlice, (long)m * per * p);
            for (int c = c0; c < c1; c++)
            {
                int n0 = c * per, nb = Math.Min(per, g.N - n0), cols = nb * p;
                Gather(g, (float*)agy, n0, nb, gyb.Pointer);
                Gemm.Sgemm(true, false, k, cols, m, 1f, (float*)aw, k, gyb.Pointer, cols, 0f, col.Pointer, cols, parallel: !outer);
                for (int b = 0; b < nb; b++)
                {
                    float* gxn = (float*)agx + (long)(n0 + b) * g.C * g.InSize;
                    new Span<float>(gxn, g.C * g.InSize).Clear();
                    ConvIm2Col.Col2Im(g, col.Pointer + (long)b * p, gxn, 0, g.OD * g.OH, cols);
                }
            }
        });
    }

    /// <summary>gw = Σ_n gy_n · im2col(x_n)ᵀ (gw fully overwritten); one partial per core, added in core order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardWeight(ConvGeometry g, float* x, float* gy, float* gw)
    {
        var (per, chunks) = Plan(g);
        int k = g.ColRows, p = g.OutSize, m = g.M;
        int mk = m * k;
        int workers = chunks >= ConvImplicitGemm.Cores && ConvImplicitGemm.Cores > 1 ? ConvImplicitGemm.Cores : 1;
        bool outer = workers > 1;
        var partials = new float[workers][];
        nint ax = (nint)x, agy = (nint)gy, agw = (nint)gw;
        Work.For(workers, 1, (w0, w1) =>
        {
            for (int wk = w0; wk < w1; wk++)
            {
                int cs = (int)((long)chunks * wk / workers), ce = (int)((long)chunks * (wk + 1) / workers);
                var acc = wk == 0 ? null : GC.AllocateUninitializedArray<float>(mk);
                partials[wk] = acc!;
                using var col = ConvScratch.Rent(ConvScratchRole.Columns, (long)k * per * p);
                using var gyb = ConvScratch.Rent(ConvScratchRole.GradientSlice, (long)m * per * p);
                fixed (float* pacc = acc)
                {
                    float* dst = wk == 0 ? (float*)agw : pacc;
                    if (ce <= cs) new Span<float>(dst, mk).Clear();
                    for (int c = cs; c < ce; c++)
                    {
                        int n0 = c * per, nb = Math.Min(per, g.N - n0), cols = nb * p;
                        Gather(g, (float*)agy, n0, nb, gyb.Pointer);
                        for (int b = 0; b < nb; b++)
                            ConvIm2Col.Im2Col(g, (float*)ax + (long)(n0 + b) * g.C * g.InSize, col.Pointer + (long)b * p, 0, g.OD * g.OH, cols);
                        Gemm.Sgemm(false, true, m, k, cols, 1f, gyb.Pointer, cols, col.Pointer, cols, c == cs ? 0f : 1f, dst, k, parallel: !outer);
                    }
                }
            }
        });
        for (int wk = 1; wk < workers; wk++)
            fixed (float* ps = partials[wk]) ConvIm2Col.AddInto(gw, ps, mk);
    }

    /// <summary>gYb[o, b·P + q] = gy[n₀ + b, o, q] for the chunk's images.</summary>
    private static void Gather(ConvGeometry g, float* gy, int n0, int nb, float* gyb)
    {
        int p = g.OutSize, cols = nb * p;
        for (int b = 0; b < nb; b++)
        {
            float* src = gy + (long)(n0 + b) * g.M * p;
            for (int o = 0; o < g.M; o++)
                new ReadOnlySpan<float>(src + (long)o * p, p).CopyTo(new Span<float>(gyb + (long)o * cols + (long)b * p, p));
        }
    }

    /// <summary>dst[i] = src[i] + add for i in [0, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(float* src, float* dst, int n, float add)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var a = Vector256.Create(add);
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(src + i) + a, dst + i);
        }
        if (Vector128.IsHardwareAccelerated && i + 4 <= n)
        {
            Vector128.Store(Vector128.Load(src + i) + Vector128.Create(add), dst + i);
            i += 4;
        }
        for (; i < n; i++) dst[i] = src[i] + add;
    }
}
