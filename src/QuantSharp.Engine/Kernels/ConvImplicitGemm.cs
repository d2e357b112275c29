using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Fast 2-D convolution (groups = 1; any strides, asymmetric pads, dilations) as an implicit GEMM: the packed
/// micro-kernels of <see cref="Gemm"/> with the im2col operand gathered straight from a zero-padded copy of each image
/// into the micro-kernel's panels, never materialized. Forward, backward-data and backward-weight;
/// <see cref="ConvReference"/> is the specification.
/// </summary>
/// <remarks>
/// <para>Per image n, with K = C·KH·KW and P = OH·OW:
/// forward <c>Y_n[M × P] = W[M × K] · B_n[K × P] + b</c> where <c>B_n[(c·KH + kh)·KW + kw, oh·OW + ow] =
/// x[n, c, oh·SH − padTop + kh·DH, ow·SW − padLeft + kw·DW]</c> (0 in the padding);
/// backward-weight <c>gW[M × K] = Σ_n gY_n[M × P] · B_nᵀ</c>;
/// backward-data <c>gX_n = col2im(Wᵀ[K × M] · gY_n)</c>, which for stride 1 is the forward convolution of gY with
/// the weights flipped in space and transposed in channels, <c>W'[c, m, i, j] = W[m, c, KH−1−i, KW−1−j]</c>, and
/// pads <c>(KH−1)·DH − padTop</c> (etc.); for other strides each stride phase of the input gradient is such a
/// stride-1 convolution with the taps of that phase (GEMM + vectorized col2im when the weights are very large).</para>
/// <para>Each image is copied once into a padded buffer split into stride phases, in which every convolution reads
/// like a stride-1 one (contiguous runs of pixels; see <see cref="ConvImplicitGemmLayout"/>). The weights are packed
/// once per call and multiplied with one 32-pixel panel of B at a time from a per-thread L1-sized buffer
/// (<see cref="ConvImplicitGemmDriver"/>); weights too large for L2 blocks go through <see cref="Gemm.SgemmPackedB{TPacker}"/>.</para>
/// <para>Threads: with at least as many images as cores, whole images are spread over the cores (each with its own
/// buffers; weight-gradient partials are reduced in a fixed block order), and the remaining N mod cores images run one
/// at a time with their output panels (weight-gradient column panels) split over the cores. Results do not depend on
/// timing.</para>
/// </remarks>
public static unsafe class ConvImplicitGemm
{
    /// <summary>
    /// True when these kernels handle a convolution with parameters <paramref name="p"/> and weight shape
    /// <paramref name="weightShape"/>: two spatial axes (weight [M, C, KH, KW]) and one group.
    /// </summary>
    public static bool Supports(ConvParams p, ReadOnlySpan<int> weightShape) =>
        p.SpatialRank == 2 && weightShape.Length == 4 && p.Groups == 1;

    /// <summary>Conv forward: input [N, C, H, W], weight [M, C, KH, KW], optional bias [M] → [N, M, OH, OW].</summary>
    /// <remarks><c>y[n, m, oh, ow] = b[m] + Σ_{c, kh, kw} w[m, c, kh, kw] · x[n, c, oh·SH − padTop + kh·DH, ow·SW − padLeft + kw·DW]</c>.</remarks>
    /// <param name="destination">Optional output tensor (every element overwritten; must not alias an argument).</param>
    /// <exception cref="ShapeException">A shape is invalid or the convolution is not supported (see <see cref="Supports"/>).</exception>
    /// <param name="epilogue">Optional normalization and activation applied to each image's output as it is finished.</param>
    public static Tensor<float> Forward(Tensor<float> x, Tensor<float> w, Tensor<float>? b, ConvParams p, Tensor<float>? destination = null,
        ConvEpilogue? epilogue = null)
    {
        const string op = "ConvImplicitGemm.Forward";
        var geo = Validate(op, x.Dims, w.Dims, p);
        Conv.CheckBias(op, b, geo.M);
        var y = Destination(op, destination, geo.OutputShape);
        var layout = new ConvImplicitGemmLayout(geo, p.PadsEnd[0], p.PadsEnd[1]);
        fixed (float* px = x.Data, pw = w.Data, pb = b?.Data, py = y.Data)
            ForwardCore(layout, geo.N, px, pw, pb, py, epilogue);
        return y;
    }

    /// <summary>Conv gradient with respect to the input: gradOutput [N, M, OH, OW] and weight → [N, C, H, W] (= <paramref name="inputShape"/>).</summary>
    /// <remarks><c>gx[n, c, ih, iw] = Σ_{m, kh, kw, oh, ow : ih = oh·SH − padTop + kh·DH, iw = ow·SW − padLeft + kw·DW} w[m, c, kh, kw] · gy[n, m, oh, ow]</c>.</remarks>
    /// <param name="destination">Optional output tensor (every element overwritten; must not alias an argument).</param>
    /// <exception cref="ShapeException">A shape is invalid or the convolution is not supported (see <see cref="Supports"/>).</exception>
    public static Tensor<float> BackwardData(Tensor<float> gradOutput, Tensor<float> w, ReadOnlySpan<int> inputShape, ConvParams p,
        Tensor<float>? destination = null)
    {
        const string op = "ConvImplicitGemm.BackwardData";
        var geo = Validate(op, inputShape, w.Dims, p);
        Check.SameShape(op, "gradOutput", geo.OutputShape, gradOutput.Dims);
        var gx = Destination(op, destination, geo.InputShape);
        int flipPadTop = (geo.KH - 1) * geo.DH - geo.PH, flipPadLeft = (geo.KW - 1) * geo.DW - geo.PW;
        int flipPadBottom = (geo.KH - 1) * geo.DH - p.PadsEnd[0], flipPadRight = (geo.KW - 1) * geo.DW - p.PadsEnd[1];
        if (geo.SH == 1 && geo.SW == 1 && flipPadTop >= 0 && flipPadLeft >= 0 && flipPadBottom >= 0 && flipPadRight >= 0)
        {
            // Stride 1: a forward convolution of gY with the flipped, channel-transposed weights.
            var wt = FlipTranspose(w, geo);
            var pt = new ConvParams([1, 1], [flipPadTop, flipPadLeft], [flipPadBottom, flipPadRight], [geo.DH, geo.DW]);
            var geoT = ConvGeometry.ForConv(op, gradOutput.Dims, wt.Dims, pt);
            var layoutT = new ConvImplicitGemmLayout(geoT, flipPadBottom, flipPadRight);
            fixed (float* pgy = gradOutput.Data, pw = wt.Data, pgx = gx.Data)
                ForwardCore(layoutT, geo.N, pgy, pw, null, pgx);
            return gx;
        }
        var layout = new ConvImplicitGemmLayout(geo, p.PadsEnd[0], p.PadsEnd[1]);
        fixed (float* pgy = gradOutput.Data, pw = w.Data, pgx = gx.Data)
        {
            // Strided: one stride-1 implicit GEMM per stride phase; GEMM + col2im when a phase's weights are too large.
            if (ForceColumns || !ConvImplicitGemmBackward.DataByPhases(geo, layout, geo.N, pgy, pw, pgx))
                ConvImplicitGemmBackward.DataByColumns(layout, geo.N, pgy, pw, pgx);
        }
        return gx;
    }

    /// <summary>Conv gradient with respect to the weight: input [N, C, H, W] and gradOutput [N, M, OH, OW] → [M, C, KH, KW] (= <paramref name="weightShape"/>).</summary>
    /// <remarks><c>gw[m, c, kh, kw] = Σ_{n, oh, ow} gy[n, m, oh, ow] · x[n, c, oh·SH − padTop + kh·DH, ow·SW − padLeft + kw·DW]</c>.</remarks>
    /// <param name="destination">Optional output tensor (every element overwritten; must not alias an argument).</param>
    /// <exception cref="ShapeException">A shape is invalid or the convolution is not supported (see <see cref="Supports"/>).</exception>
    public static Tensor<float> BackwardWeight(Tensor<float> x, Tensor<float> gradOutput, ReadOnlySpan<int> weightShape, ConvParams p,
        Tensor<float>? destination = null)
    {
        const string op = "ConvImplicitGemm.BackwardWeight";
        var geo = Validate(op, x.Dims, weightShape, p);
        Check.SameShape(op, "gradOutput", geo.OutputShape, gradOutput.Dims);
        var gw = Destination(op, destination, geo.WeightShape);
        var layout = new ConvImplicitGemmLayout(geo, p.PadsEnd[0], p.PadsEnd[1]);
        fixed (float* px = x.Data, pgy = gradOutput.Data, pgw = gw.Data)
            ConvImplicitGemmBackward.Weight(layout, geo.N, px, pgy, pgw);
        return gw;
    }

    private static ConvGeometry Validate(string op, ReadOnlySpan<int> inputShape, ReadOnlySpan<int> weightShape, ConvParams p)
    {
        Check.Rank(op, "input", inputShape, 4);
        Check.Rank(op, "weight", weightShape, 4);
        Check.That(p.SpatialRank == 2, op, "params", "2 spatial axes", $"{p.SpatialRank}");
        Check.That(p.Groups == 1, op, "groups", "1 (grouped convolutions are not supported by the implicit GEMM)", $"{p.Groups}");
        return ConvGeometry.ForConv(op, inputShape, weightShape, p);
    }

    /// <summary>
    /// Forward of every image: <c>y_n = W · B_n (+ bias)</c>. Whole images go to the cores in parallel while at least one
    /// per core remains; the rest run one by one with their panels (or the GEMM) split over the cores.
    /// </summary>
    internal static void ForwardCore(ConvImplicitGemmLayout L, int n, float* x, float* w, float* bias, float* y, ConvEpilogue? epilogue = null)
    {
        long inImage = (long)L.C * L.H * L.W, outImage = (long)L.M * L.P;
        if (L.K == 0)
        {
            // No input channels: the output is the bias (or 0).
            for (int i = 0; i < n; i++)
                for (int m = 0; m < L.M; m++)
                    new Span<float>(y + i * outImage + (long)m * L.P, L.P).Fill(bias == null ? 0f : bias[m]);
            epilogue?.ApplyAll(y, n, L.M, L.P);
            return;
        }
        int outer = OuterImages(n);
        using var driver = ConvImplicitGemmDriver.TryCreate(w, L.M, L.K);
        int panels = (L.P + Gemm.NR - 1) / Gemm.NR;
        nint ax = (nint)x, aw = (nint)w, ab = (nint)bias, ay = (nint)y;
        Work.For(outer, 1, (start, end) =>
        {
            using var pad = ConvScratch.Rent(ConvScratchRole.PaddedImage, L.BufferFloats);
            using var panel = ConvScratch.Rent(ConvScratchRole.Panel, driver?.PanelFloats ?? 0);
            for (int i = start; i < end; i++)
            {
                L.Pad((float*)ax + i * inImage, pad.Pointer);
                var packer = new ConvImplicitGemmPacker(L, pad.Pointer);
                float* yi = (float*)ay + i * outImage;
                if (driver is not null) driver.Run(ref packer, L.P, 0, panels, yi, (float*)ab, panel.Pointer);
                else Gemm.SgemmPackedB(L.M, L.P, L.K, (float*)aw, L.K, false, ref packer, yi, L.P, 0f, false, 1f, (float*)ab);
                epilogue?.ApplyImages(yi, 0, 1, L.M, L.P); // while the image's output is in this core's cache
            }
        });
        if (outer == n) return;
        using var buf = ConvScratch.Rent(ConvScratchRole.PaddedImage, L.BufferFloats);
        nint apad = (nint)buf.Pointer;
        for (int i = outer; i < n; i++)
        {
            L.PadParallel(x + i * inImage, buf.Pointer);
            nint ayi = (nint)(y + i * outImage);
            if (driver is null)
            {
                var packer = new ConvImplicitGemmPacker(L, buf.Pointer);
                Gemm.SgemmPackedB(L.M, L.P, L.K, w, L.K, false, ref packer, (float*)ayi, L.P, 0f, true, 1f, bias);
                continue;
            }
            // One image: its output panels are split over the cores, each packing its own B panels.
            Work.For(panels, 1, (q0, q1) =>
            {
                using var panel = ConvScratch.Rent(ConvScratchRole.Panel, driver.PanelFloats);
                var packer = new ConvImplicitGemmPacker(L, (float*)apad);
                driver.Run(ref packer, L.P, q0, q1, (float*)ayi, (float*)ab, panel.Pointer);
            });
        }
        epilogue?.ApplyAll(y + outer * outImage, n - outer, L.M, L.P);
    }

    /// <summary>Tests set this (on their own thread) to run strided backward-data through GEMM + col2im instead of the phase GEMMs.</summary>
    [ThreadStatic] internal static bool ForceColumns;

    /// <summary>Tests set this (on their own thread) to partition the work as if there were that many cores; 0 = <see cref="Work.Threads"/>.</summary>
    [ThreadStatic] internal static int CoresOverride;

    /// <summary>The core count the work is partitioned for.</summary>
    internal static int Cores => CoresOverride > 0 ? CoresOverride : Work.Threads;

    /// <summary>Images handled whole by one core each: the largest multiple of the core count not above n (0 on one core).</summary>
    internal static int OuterImages(int n)
    {
        int t = Cores;
        return t > 1 && n >= t ? n / t * t : 0;
    }

    /// <summary>W'[c, m, i, j] = W[m, c, KH−1−i, KW−1−j]: the weight of the stride-1 backward-data convolution.</summary>
    private static Tensor<float> FlipTranspose(Tensor<float> w, ConvGeometry g)
    {
        var wt = new Tensor<float>(g.C, g.M, g.KH, g.KW);
        int kk = g.KH * g.KW;
        var src = w.Data;
        var dst = wt.Data;
        for (int m = 0; m < g.M; m++)
            for (int c = 0; c < g.C; c++)
            {
                int s = (m * g.C + c) * kk, d = (c * g.M + m) * kk;
                for (int i = 0; i < kk; i++) dst[d + kk - 1 - i] = src[s + i];
            }
        return wt;
    }

    private static Tensor<float> Destination(string op, Tensor<float>? destination, int[] shape)
    {
        if (destination is null) return Tensor<float>.Uninitialized(shape);
        Check.SameShape(op, "destination", shape, destination.Dims);
        return destination;
    }
}
