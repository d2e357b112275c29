using System.Buffers;
using System.Runtime.CompilerServices;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Fast convolution kernels (ONNX <c>Conv</c> and <c>ConvTranspose</c>, NCHW, 1-D to 3-D, strides, dilations,
/// asymmetric pads, groups, optional bias) and their gradients. These are the one set of gradient rules:
/// eager autograd and graph backward both call them. <see cref="ConvReference"/> is the specification.
/// </summary>
/// <remarks>
/// General path: lowering to GEMM per image and group, <c>Y_g[Mg × P] = W_g[Mg × K] · col[K × P]</c> with
/// K = C/G·kernel volume and P the output pixels; backward-data is <c>col = W_gᵀ · gY_g</c> then col2im;
/// backward-weight is <c>gW_g += gY_g · colᵀ</c>. 1×1 stride-1 unpadded convs use the input as <c>col</c>.
/// Images whose column matrix exceeds a per-worker cap are lowered in bands of whole output rows (a column range of
/// the same GEMMs), so memory stays bounded for large inputs.
/// Ungrouped convs with small output planes (≤ 64 pixels) batch several images into one GEMM (<see cref="ConvBatched"/>;
/// for 2-D weight gradients the implicit GEMM stays faster);
/// 2-D ungrouped convs otherwise run as an implicit GEMM (<see cref="ConvImplicitGemm"/>).
/// Depthwise convs (one channel per group, 1-D/2-D) use the direct kernels of <see cref="DepthwiseConv"/>.
/// ConvTranspose forward is Conv backward-data; its input gradient is Conv forward and its weight gradient is
/// Conv backward-weight with the roles of input and output gradient swapped.
/// Methods taking a <c>destination</c> write into it (every element overwritten; it must not alias an argument)
/// and return it; without one they return a new tensor.
/// </remarks>
public static unsafe class Conv
{
    /// <summary>Conv forward: input [N, C, in…], weight [M, C/group, k…], optional bias [M] → [N, M, out…].</summary>
    /// <param name="epilogue">Optional batch normalization and activation applied to each output plane as the kernels finish it
    /// (bit-identical to running them as separate ops afterwards).</param>
    public static Tensor<float> Forward(Tensor<float> x, Tensor<float> w, Tensor<float>? b, ConvParams p, Tensor<float>? destination = null,
        ConvEpilogue? epilogue = null)
    {
        var geo = ConvGeometry.ForConv("Conv", x.Dims, w.Dims, p);
        CheckBias("Conv", b, geo.M);
        // 2-D ungrouped convolutions (the bulk of CNN work) run as an implicit GEMM; the rest lower to im2col + GEMM.
        var y = Destination("Conv", destination, geo.OutputShape);
        if (ConvBatched.PreferForward(geo))
        {
            fixed (float* px = x.Data, pw = w.Data, pb = b?.Data, py = y.Data) ConvBatched.Forward(geo, px, pw, pb, py, epilogue);
            return y;
        }
        if (ConvImplicitGemm.Supports(p, w.Dims)) return ConvImplicitGemm.Forward(x, w, b, p, y, epilogue);
        if (geo.IsDepthwise2D)
        {
            DepthwiseConv.Forward(geo, x.Data, w.Data, b?.Data, y.Data, epilogue);
            return y;
        }
        ForwardCore(geo, x.Data, w.Data, b?.Data, y.Data);
        if (epilogue is not null)
            fixed (float* py = y.Data) epilogue.ApplyAll(py, geo.N, geo.M, geo.OutSize);
        return y;
    }

    /// <summary>Conv gradient with respect to the input: gradOutput [N, M, out…] and weight → gradient of shape <paramref name="inputShape"/>.</summary>
    public static Tensor<float> BackwardData(Tensor<float> gradOutput, Tensor<float> w, ReadOnlySpan<int> inputShape, ConvParams p, Tensor<float>? destination = null)
    {
        var geo = ConvGeometry.ForConv("Conv.BackwardData", inputShape, w.Dims, p);
        Check.SameShape("Conv.BackwardData", "gradOutput", geo.OutputShape, gradOutput.Dims);
        var gx = Destination("Conv.BackwardData", destination, geo.InputShape);
        if (ConvBatched.PreferBackwardData(geo))
        {
            fixed (float* pgy = gradOutput.Data, pw = w.Data, pgx = gx.Data) ConvBatched.BackwardData(geo, pgy, pw, pgx);
            return gx;
        }
        if (ConvImplicitGemm.Supports(p, w.Dims)) return ConvImplicitGemm.BackwardData(gradOutput, w, inputShape, p, gx);
        BackwardDataCore(geo, gradOutput.Data, w.Data, gx.Data);
        return gx;
    }

    /// <summary>Conv gradient with respect to the weight: input and gradOutput → gradient of shape <paramref name="weightShape"/>.</summary>
    public static Tensor<float> BackwardWeight(Tensor<float> x, Tensor<float> gradOutput, ReadOnlySpan<int> weightShape, ConvParams p, Tensor<float>? destination = null)
    {
        var geo = ConvGeometry.ForConv("Conv.BackwardWeight", x.Dims, weightShape, p);
        Check.SameShape("Conv.BackwardWeight", "gradOutput", geo.OutputShape, gradOutput.Dims);
        var gw = Destination("Conv.BackwardWeight", destination, geo.WeightShape);
        if (ConvBatched.PreferBackwardWeight(geo, ConvImplicitGemm.Supports(p, weightShape)))
        {
            fixed (float* px = x.Data, pgy = gradOutput.Data, pgw = gw.Data) ConvBatched.BackwardWeight(geo, px, pgy, pgw);
            return gw;
        }
        if (ConvImplicitGemm.Supports(p, weightShape)) return ConvImplicitGemm.BackwardWeight(x, gradOutput, weightShape, p, gw);
        BackwardWeightCore(geo, x.Data, gradOutput.Data, gw.Data);
        return gw;
    }

    /// <summary>Bias gradient of Conv or ConvTranspose: <c>gb[m] = Σ_{n, spatial} gradOutput[n, m, …]</c> → [M].</summary>
    public static Tensor<float> BackwardBias(Tensor<float> gradOutput)
    {
        Check.RankBetween("Conv.BackwardBias", "gradOutput", gradOutput.Dims, 3, 5);
        int n = gradOutput.Dims[0], m = gradOutput.Dims[1];
        int plane = n * m == 0 ? 0 : gradOutput.Length / (n * m);
        var gb = new Tensor<float>(m);
        var g = gradOutput.Data;
        for (int c = 0; c < m; c++)
        {
            float s = 0;
            for (int b = 0; b < n; b++) s += DepthwiseConv.Sum(g.AsSpan((b * m + c) * plane, plane));
            gb.Data[c] = s;
        }
        return gb;
    }

    /// <summary>
    /// ConvTranspose forward: input [N, C, in…], weight [C, M/group, k…], optional bias [M] → [N, M, out…] with
    /// out = stride·(in − 1) + outputPadding + (k − 1)·dilation + 1 − padBegin − padEnd.
    /// </summary>
    public static Tensor<float> Transpose(Tensor<float> x, Tensor<float> w, Tensor<float>? b, ConvParams p, int[]? outputPadding = null, Tensor<float>? destination = null)
    {
        var geo = ConvGeometry.ForTranspose("ConvTranspose", x.Dims, w.Dims, p, outputPadding);
        CheckBias("ConvTranspose", b, geo.C);
        var y = Destination("ConvTranspose", destination, geo.InputShape);
        BackwardDataCore(geo, x.Data, w.Data, y.Data);
        if (b is not null) AddChannelBias(y.Data, b.Data, geo.N, geo.C, geo.InSize);
        return y;
    }

    /// <summary>ConvTranspose gradient with respect to its input: a Conv forward of gradOutput with the same weight; returns shape <paramref name="inputShape"/>.</summary>
    public static Tensor<float> TransposeBackwardData(Tensor<float> gradOutput, Tensor<float> w, ReadOnlySpan<int> inputShape, ConvParams p, int[]? outputPadding = null)
    {
        var geo = ConvGeometry.ForTranspose("ConvTranspose.BackwardData", inputShape, w.Dims, p, outputPadding);
        Check.SameShape("ConvTranspose.BackwardData", "gradOutput", geo.InputShape, gradOutput.Dims);
        var gx = Tensor<float>.Uninitialized(geo.OutputShape);
        ForwardCore(geo, gradOutput.Data, w.Data, null, gx.Data);
        return gx;
    }

    /// <summary>ConvTranspose gradient with respect to its weight: Conv backward-weight with gradOutput as the Conv input and the ConvTranspose input as the Conv output gradient.</summary>
    public static Tensor<float> TransposeBackwardWeight(Tensor<float> x, Tensor<float> gradOutput, ReadOnlySpan<int> weightShape, ConvParams p, int[]? outputPadding = null)
    {
        var geo = ConvGeometry.ForTranspose("ConvTranspose.BackwardWeight", x.Dims, weightShape, p, outputPadding);
        Check.SameShape("ConvTranspose.BackwardWeight", "gradOutput", geo.InputShape, gradOutput.Dims);
        var gw = Tensor<float>.Uninitialized(geo.WeightShape);
        BackwardWeightCore(geo, gradOutput.Data, x.Data, gw.Data);
        return gw;
    }

    /// <summary>
    /// The result tensor: <paramref name="destination"/> when given (its shape must be <paramref name="shape"/>),
    /// else a new tensor whose memory is not zeroed (the kernels overwrite every element).
    /// </summary>
    private static Tensor<float> Destination(string op, Tensor<float>? destination, int[] shape)
    {
        if (destination is null) return Tensor<float>.Uninitialized(shape);
        Check.SameShape(op, "destination", shape, destination.Dims);
        return destination;
    }

    internal static void CheckBias(string op, Tensor<float>? b, int channels)
    {
        if (b is null) return;
        Check.That(b.Rank == 1 && b.Length == channels, op, "bias", $"shape [{channels}]", Shapes.Format(b.Dims));
    }

    private static bool ParallelOverImages(ConvGeometry g) => Work.Threads > 1 && g.N >= Work.Threads;

    /// <summary>Largest im2col buffer per worker, in floats (16 MiB): bigger images are lowered a band of output rows at a time.</summary>
    internal static int ColBufferCapFloats { get; set; } = 1 << 22;

    /// <summary>Output rows (one (od, oh) pair each, OW pixels) per im2col band; the whole image when it fits the cap.</summary>
    private static int BandRows(ConvGeometry g) =>
        (int)Math.Clamp(ColBufferCapFloats / Math.Max(1L, (long)g.ColRows * g.OW), 1, (long)g.OD * g.OH);

    private static long ColSize(ConvGeometry g) => g.IsPointwise ? 0 : (long)g.ColRows * BandRows(g) * g.OW;

    /// <summary>y = conv(x, w) + b for a validated geometry (y fully overwritten).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ForwardCore(ConvGeometry g, float[] x, float[] w, float[]? b, float[] y)
    {
        if (g.IsDepthwise2D) { DepthwiseConv.Forward(g, x, w, b, y); return; }
        int k = g.ColRows, p = g.OutSize, band = BandRows(g);
        bool outer = ParallelOverImages(g);
        fixed (float* px = x, pw = w, py = y, pb = b)
        {
            nint ax = (nint)px, aw = (nint)pw, ay = (nint)py, ab = (nint)pb;
            RunImages(g, outer, ColSize(g), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (n, colAddr) =>
            {
                float* col = (float*)colAddr;
                for (int grp = 0; grp < g.G; grp++)
                {
                    float* xg = (float*)ax + ((long)n * g.C + grp * g.Cg) * g.InSize;
                    float* yg = (float*)ay + ((long)n * g.M + grp * g.Mg) * p;
                    float* wg = (float*)aw + (long)grp * g.Mg * k;
                    float beta = 0;
                    if (ab != 0)
                    {
                        for (int m = 0; m < g.Mg; m++) new Span<float>(yg + (long)m * p, p).Fill(((float*)ab)[grp * g.Mg + m]);
                        beta = 1;
                    }
                    if (g.IsPointwise)
                    {
                        Gemm.Sgemm(false, false, g.Mg, p, k, 1f, wg, k, xg, p, beta, yg, p, parallel: !outer);
                        continue;
                    }
                    for (int r0 = 0, rows = g.OD * g.OH; r0 < rows; r0 += band)
                    {
                        int rc = Math.Min(band, rows - r0), cp = rc * g.OW;
                        ConvIm2Col.Im2Col(g, xg, col, r0, rc);
                        Gemm.Sgemm(false, false, g.Mg, cp, k, 1f, wg, k, col, cp, beta, yg + (long)r0 * g.OW, p, parallel: !outer);
                    }
                }
            });
        }
    }

    /// <summary>gx = convᵀ(gy, w) for a validated geometry (gx fully overwritten).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BackwardDataCore(ConvGeometry g, float[] gy, float[] w, float[] gx)
    {
        if (g.IsDepthwise2D) { DepthwiseConv.BackwardData(g, gy, w, gx); return; }
        int k = g.ColRows, p = g.OutSize, band = BandRows(g);
        bool outer = ParallelOverImages(g);
        fixed (float* pgy = gy, pw = w, pgx = gx)
        {
            nint agy = (nint)pgy, aw = (nint)pw, agx = (nint)pgx;
            RunImages(g, outer, ColSize(g), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (n, colAddr) =>
            {
                float* col = (float*)colAddr;
                for (int grp = 0; grp < g.G; grp++)
                {
                    float* gyg = (float*)agy + ((long)n * g.M + grp * g.Mg) * p;
                    float* gxg = (float*)agx + ((long)n * g.C + grp * g.Cg) * g.InSize;
                    float* wg = (float*)aw + (long)grp * g.Mg * k;
                    if (g.IsPointwise)
                    {
                        Gemm.Sgemm(true, false, k, p, g.Mg, 1f, wg, k, gyg, p, 0f, gxg, p, parallel: !outer);
                        continue;
                    }
                    new Span<float>(gxg, g.Cg * g.InSize).Clear();
                    for (int r0 = 0, rows = g.OD * g.OH; r0 < rows; r0 += band)
                    {
                        int rc = Math.Min(band, rows - r0), cp = rc * g.OW;
                        Gemm.Sgemm(true, false, k, cp, g.Mg, 1f, wg, k, gyg + (long)r0 * g.OW, p, 0f, col, cp, parallel: !outer);
                        ConvIm2Col.Col2Im(g, col, gxg, r0, rc);
                    }
                }
            });
        }
    }

    /// <summary>gw = Σ_n gy ⋆ x for a validated geometry (gw fully overwritten); each worker accumulates its own copy, reduced in a fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BackwardWeightCore(ConvGeometry g, float[] x, float[] gy, float[] gw)
    {
        if (g.IsDepthwise2D) { DepthwiseConv.BackwardWeight(g, x, gy, gw); return; }
        int k = g.ColRows, p = g.OutSize, band = BandRows(g);
        bool outer = ParallelOverImages(g);
        var partials = new List<(int Start, float[] Sum)>();
        fixed (float* px = x, pgy = gy)
        {
            nint ax = (nint)px, agy = (nint)pgy;
            // One block per worker (not per Work.For block) so only Threads partial sums are allocated.
            int workers = outer ? Work.Threads : 1;
            Work.For(workers, 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (ws, we) =>
            {
                int start = (int)((long)g.N * ws / workers), end = (int)((long)g.N * we / workers);
                var acc = outer ? new float[gw.Length] : gw;
                if (!outer) Array.Clear(gw);
                float[]? colArr = g.IsPointwise ? null : ArrayPool<float>.Shared.Rent(checked((int)ColSize(g)));
                try
                {
                    fixed (float* pacc = acc, col = colArr)
                        for (int n = start; n < end; n++)
                            for (int grp = 0; grp < g.G; grp++)
                            {
                                float* xg = (float*)ax + ((long)n * g.C + grp * g.Cg) * g.InSize;
                                float* gyg = (float*)agy + ((long)n * g.M + grp * g.Mg) * p;
                                float* gwg = pacc + (long)grp * g.Mg * k;
                                if (g.IsPointwise)
                                {
                                    Gemm.Sgemm(false, true, g.Mg, k, p, 1f, gyg, p, xg, p, 1f, gwg, k, parallel: !outer);
                                    continue;
                                }
                                for (int r0 = 0, rows = g.OD * g.OH; r0 < rows; r0 += band)
                                {
                                    int rc = Math.Min(band, rows - r0), cp = rc * g.OW;
                                    ConvIm2Col.Im2Col(g, xg, col, r0, rc);
                                    Gemm.Sgemm(false, true, g.Mg, k, cp, 1f, gyg + (long)r0 * g.OW, p, col, cp, 1f, gwg, k, parallel: !outer);
                                }
                            }
                }
                finally
                {
                    if (colArr is not null) ArrayPool<float>.Shared.Return(colArr);
                }
                if (outer) lock (partials) partials.Add((start, acc));
            });
        }
        if (!outer) return;
        partials.Sort((a, b) => a.Start.CompareTo(b.Start));
        Array.Copy(partials[0].Sum, gw, gw.Length);
        fixed (float* pgw = gw)
            for (int i = 1; i < partials.Count; i++)
                fixed (float* ps = partials[i].Sum) ConvIm2Col.AddInto(pgw, ps, gw.Length);
    }

    /// <summary>Runs <paramref name="body"/>(image, colBuffer) for every image: in parallel blocks when <paramref name="outer"/>, each with its own buffer of <paramref name="colSize"/> floats.</summary>
    private static void RunImages(ConvGeometry g, bool outer, long colSize, Action<int, nint> body)
    {
        Work.For(outer ? g.N : 1, 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            if (!outer) end = g.N;
            float[]? buf = colSize == 0 ? null : ArrayPool<float>.Shared.Rent(checked((int)colSize));
            try
            {
                fixed (float* col = buf)
                    for (int n = start; n < end; n++) body(n, (nint)col);
            }
            finally
            {
                if (buf is not null) ArrayPool<float>.Shared.Return(buf);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddChannelBias(float[] y, float[] b, int n, int c, int plane)
    {
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                fixed (float* row = &y[(i * c + ch) * plane])
                    DepthwiseConv.AddScalar(row, b[ch], plane);
    }
}
