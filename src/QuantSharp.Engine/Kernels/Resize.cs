using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// ONNX <c>Resize</c> (and <c>Upsample</c>) on float tensors of any rank: nearest, N-linear and cubic interpolation
/// with every coordinate transformation mode, and its gradient. <see cref="ResizeReference"/> is the specification.
/// </summary>
/// <remarks>
/// Resize is separable: along each axis d an output index o reads taps <c>(i_k, w_k)</c> of a
/// <see cref="ResizeAxisTable"/>, and <c>y[o_0..o_r] = Σ Π_d w_{d,k_d} · x[i_{0,k_0}..i_{r,k_r}]</c>.
/// Fast path: when only the last two axes change (NCHW images), each plane is interpolated along W for the input
/// rows that are read (AVX2 gathers over the output row), then along H with <see cref="Vector512{T}"/> FMAs over the
/// output row; nearest mode copies (bit-identical to the reference). Other cases run the reference.
/// The gradient is the adjoint: <c>gx[i] = Σ_o Π w · gy[o]</c> over the same taps.
/// Methods taking a <c>destination</c> write every element of it and return it.
/// </remarks>
public static unsafe class Resize
{
    /// <summary>Output shape for per-axis <paramref name="scales"/>: <c>floor(input[d]·scales[d])</c>.</summary>
    public static int[] OutputShape(ReadOnlySpan<int> inputShape, ReadOnlySpan<double> scales)
    {
        Check.That(scales.Length == inputShape.Length, "Resize", "scales", $"{inputShape.Length} values (one per axis)", $"{scales.Length}");
        var o = new int[inputShape.Length];
        for (int d = 0; d < o.Length; d++)
        {
            Check.That(scales[d] > 0, "Resize", "scales", "positive values", $"{scales[d]} at axis {d}");
            // In float32, as ONNX Runtime and the ONNX reference compute it: 5 × 1.4f is 7 there, 6.99999988 in double.
            o[d] = (int)MathF.Floor(inputShape[d] * (float)scales[d]);
        }
        return o;
    }

    /// <summary>
    /// The interpolation table of every axis. <paramref name="scales"/> are the coordinate scales (output/input when
    /// sizes are given); <paramref name="roi"/> is [starts…, ends…] normalized (tf_crop_and_resize), or empty.
    /// </summary>
    public static ResizeAxisTable[] Tables(ReadOnlySpan<int> inputShape, ReadOnlySpan<int> outputShape, ReadOnlySpan<double> scales,
        ResizeParams p, ReadOnlySpan<double> roi = default)
    {
        int r = inputShape.Length;
        Check.That(outputShape.Length == r, "Resize", "outputShape", $"rank {r}", $"rank {outputShape.Length}");
        Check.That(scales.Length == r, "Resize", "scales", $"{r} values (one per axis)", $"{scales.Length}");
        Check.That(roi.Length == 0 || roi.Length == 2 * r, "Resize", "roi", $"{2 * r} values (starts then ends)", $"{roi.Length}");
        var tables = new ResizeAxisTable[r];
        for (int d = 0; d < r; d++)
        {
            Check.That(outputShape[d] >= 0, "Resize", "outputShape", "non-negative sizes", Shapes.Format(outputShape));
            Check.That(scales[d] > 0 && double.IsFinite(scales[d]), "Resize", "scales", "positive finite values", $"{scales[d]} at axis {d}");
            Check.That(inputShape[d] > 0 || outputShape[d] == 0, "Resize", "X", "non-empty axes when the output is not empty", Shapes.Format(inputShape));
            double resized = inputShape[d] * scales[d];
            if (Math.Abs(resized - outputShape[d]) <= 1e-9 * Math.Max(1, resized)) resized = outputShape[d];
            tables[d] = ResizeAxisTable.Build(inputShape[d], outputShape[d], scales[d], resized, p,
                roi.Length == 0 ? 0 : roi[d], roi.Length == 0 ? 1 : roi[r + d]);
        }
        return tables;
    }

    /// <summary>Resizes <paramref name="x"/> to <paramref name="outputShape"/>; see the class remarks for the math.</summary>
    public static Tensor<float> Forward(Tensor<float> x, ReadOnlySpan<int> outputShape, ReadOnlySpan<double> scales, ResizeParams p,
        ReadOnlySpan<double> roi = default, Tensor<float>? destination = null)
    {
        var tables = Tables(x.Dims, outputShape, scales, p, roi);
        var y = Destination("Resize", destination, outputShape);
        if (y.Length == 0) return y;
        if (!PlanarFastPath(x.Dims, tables)) { ResizeReference.Apply(x, tables, p.ExtrapolationValue, y); return y; }
        int r = x.Rank, inH = x.Dims[r - 2], inW = x.Dims[r - 1], outH = outputShape[r - 2], outW = outputShape[r - 1];
        int planes = x.Length / (inH * inW);
        var th = tables[r - 2]; var tw = tables[r - 1];
        // Per-tap structure-of-arrays tables along W, so the output row is processed as vectors.
        int kw = tw.Taps, kh = th.Taps;
        var wIndex = new int[kw * outW]; var wWeight = new float[kw * outW];
        for (int o = 0; o < outW; o++)
            for (int k = 0; k < kw; k++) { wIndex[k * outW + o] = tw.Index[o * kw + k]; wWeight[k * outW + o] = tw.Weight[o * kw + k]; }
        var rowUsed = new bool[inH];
        foreach (int h in th.Index) rowUsed[h] = true;
        bool nearest = p.Mode == ResizeMode.Nearest;
        Work.For(planes, Math.Max(1, (1 << 16) / Math.Max(1, outH * outW)), (start, end) =>
        {
            var rows = GC.AllocateUninitializedArray<float>(inH * outW);
            fixed (float* px = x.Data, py = y.Data, pr = rows, pww = wWeight)
            fixed (int* pwi = wIndex)
            fixed (int* phi = th.Index)
            fixed (float* phw = th.Weight)
                for (int plane = start; plane < end; plane++)
                {
                    float* src = px + (long)plane * inH * inW, dst = py + (long)plane * outH * outW;
                    for (int h = 0; h < inH; h++)
                        if (rowUsed[h]) HorizontalRow(src + (long)h * inW, pr + (long)h * outW, pwi, pww, kw, outW);
                    for (int oh = 0; oh < outH; oh++)
                    {
                        float* o = dst + (long)oh * outW;
                        if (nearest) new ReadOnlySpan<float>(pr + (long)phi[oh] * outW, outW).CopyTo(new Span<float>(o, outW));
                        else VerticalRow(pr, phi + oh * kh, phw + oh * kh, kh, o, outW);
                    }
                }
        });
        return y;
    }

    /// <summary>
    /// Gradient of <see cref="Forward"/> with respect to its input: gradOutput (shaped like the output) → gradient of
    /// shape <paramref name="inputShape"/>, <c>gx[i] = Σ_o Π_d w_d · gy[o]</c> over the forward taps (outputs in the
    /// extrapolated region contribute nothing).
    /// </summary>
    public static Tensor<float> Backward(Tensor<float> gradOutput, ReadOnlySpan<int> inputShape, ReadOnlySpan<double> scales, ResizeParams p,
        ReadOnlySpan<double> roi = default)
    {
        var tables = Tables(inputShape, gradOutput.Dims, scales, p, roi);
        var gx = new Tensor<float>(inputShape);
        if (gradOutput.Length == 0 || gx.Length == 0) return gx;
        if (!PlanarFastPath(inputShape, tables)) { ResizeReference.ApplyTranspose(gradOutput, tables, gx); return gx; }
        int r = inputShape.Length, inH = inputShape[r - 2], inW = inputShape[r - 1];
        int outH = gradOutput.Dims[r - 2], outW = gradOutput.Dims[r - 1];
        var th = tables[r - 2]; var tw = tables[r - 1];
        int planes = gx.Length / (inH * inW);
        Work.For(planes, Math.Max(1, (1 << 16) / Math.Max(1, outH * outW)), (start, end) =>
        {
            fixed (float* pg = gradOutput.Data, px = gx.Data)
                for (int plane = start; plane < end; plane++)
                {
                    float* g = pg + (long)plane * outH * outW, dst = px + (long)plane * inH * inW;
                    for (int oh = 0; oh < outH; oh++)
                        for (int a = 0; a < th.Taps; a++)
                        {
                            float wh = th.Weight[oh * th.Taps + a];
                            if (wh == 0f) continue;
                            float* row = dst + (long)th.Index[oh * th.Taps + a] * inW, grow = g + (long)oh * outW;
                            for (int ow = 0; ow < outW; ow++)
                                for (int b = 0; b < tw.Taps; b++)
                                    row[tw.Index[ow * tw.Taps + b]] += wh * tw.Weight[ow * tw.Taps + b] * grow[ow];
                        }
                }
        });
        return gx;
    }

    /// <summary>True when every axis but the last two is an identity and nothing is extrapolated.</summary>
    private static bool PlanarFastPath(ReadOnlySpan<int> inputShape, ResizeAxisTable[] tables)
    {
        int r = inputShape.Length;
        if (r < 2 || inputShape[r - 1] == 0 || inputShape[r - 2] == 0) return false;
        if (tables[r - 1].Outside is not null || tables[r - 2].Outside is not null) return false;
        for (int d = 0; d < r - 2; d++) if (!tables[d].IsIdentity(inputShape[d])) return false;
        return true;
    }

    /// <summary>dst[o] = Σ_k weight[k][o]·src[index[k][o]] for one row (gathers over o).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void HorizontalRow(float* src, float* dst, int* index, float* weight, int taps, int n)
    {
        int o = 0;
        if (taps == 1)
        {
            if (Avx2.IsSupported)
                for (; o + 8 <= n; o += 8)
                    Avx.Store(dst + o, Avx2.GatherVector256(src, Avx.LoadVector256(index + o), 4));
            for (; o < n; o++) dst[o] = src[index[o]];
            return;
        }
        if (Avx2.IsSupported && Fma.IsSupported)
            for (; o + 8 <= n; o += 8)
            {
                var acc = Avx.Multiply(Avx.LoadVector256(weight + o), Avx2.GatherVector256(src, Avx.LoadVector256(index + o), 4));
                for (int k = 1; k < taps; k++)
                    acc = Fma.MultiplyAdd(Avx.LoadVector256(weight + k * n + o), Avx2.GatherVector256(src, Avx.LoadVector256(index + k * n + o), 4), acc);
                Avx.Store(dst + o, acc);
            }
        for (; o < n; o++)
        {
            float acc = weight[o] * src[index[o]];
            for (int k = 1; k < taps; k++) acc = MathF.FusedMultiplyAdd(weight[k * n + o], src[index[k * n + o]], acc);
            dst[o] = acc;
        }
    }

    /// <summary>dst[o] = Σ_k weight[k]·rows[index[k]][o] over one output row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void VerticalRow(float* rows, int* index, float* weight, int taps, float* dst, int n)
    {
        int o = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; o + 16 <= n; o += 16)
            {
                var acc = Vector512.Create(weight[0]) * Vector512.Load(rows + (long)index[0] * n + o);
                for (int k = 1; k < taps; k++)
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(weight[k]), Vector512.Load(rows + (long)index[k] * n + o), acc);
                acc.Store(dst + o);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; o + 8 <= n; o += 8)
            {
                var acc = Vector256.Create(weight[0]) * Vector256.Load(rows + (long)index[0] * n + o);
                for (int k = 1; k < taps; k++)
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(weight[k]), Vector256.Load(rows + (long)index[k] * n + o), acc);
                acc.Store(dst + o);
            }
        for (; o < n; o++)
        {
            float acc = weight[0] * rows[(long)index[0] * n + o];
            for (int k = 1; k < taps; k++) acc = MathF.FusedMultiplyAdd(weight[k], rows[(long)index[k] * n + o], acc);
            dst[o] = acc;
        }
    }

    private static Tensor<float> Destination(string op, Tensor<float>? destination, ReadOnlySpan<int> shape)
    {
        if (destination is null) return Tensor<float>.Uninitialized(shape);
        Check.SameShape(op, "destination", shape, destination.Dims);
        return destination;
    }
}
