using QuantSharp.Engine;

namespace QuantSharp.Quantization.Encodings;

/// <summary>
/// The arithmetic of per-block encodings (<see cref="QuantGranularity.PerBlock"/>) on a tensor: block layout, range
/// statistics, grid levels and fake quantization. The simulation, the techniques that search block scales and the
/// exports all go through here, so the sim and what it exports quantize each element identically.
/// </summary>
/// <remarks>
/// Levels follow the encoding convention <c>k = clamp(round(x / s) − offset, 0, steps) + offset</c> with <c>s</c> the
/// block's scale rounded to float and the division in float (as ONNX's <c>QuantizeLinear</c>), half to even;
/// dequantized values are <c>k·s</c> in float, which is what a blocked <c>DequantizeLinear</c> computes from the stored
/// integer <c>k + zp</c> and zero point <c>zp</c>.
/// </remarks>
public static class BlockQuantization
{
    /// <summary>The shape of the block grid of a tensor shaped <paramref name="dims"/>: the block axis divided by the block size, rounded up.</summary>
    /// <exception cref="ArgumentException">An axis outside the tensor or a block size below 1.</exception>
    public static int[] ScaleDims(ReadOnlySpan<int> dims, int axis, int blockSize)
    {
        if (axis < 0 || axis >= dims.Length)
            throw new ArgumentException($"BlockQuantization: block axis {axis} is outside a rank-{dims.Length} tensor", nameof(axis));
        if (blockSize < 1) throw new ArgumentException($"BlockQuantization: block size expected >= 1, got {blockSize}", nameof(blockSize));
        var s = dims.ToArray();
        s[axis] = (dims[axis] + blockSize - 1) / blockSize;
        return s;
    }

    /// <summary>The layout [outer, extent, inner, blocks] of the loops over a tensor blocked along <paramref name="axis"/>.</summary>
    private static (int Outer, int Extent, int Inner, int Blocks) Layout(ReadOnlySpan<int> dims, int axis, int blockSize)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= dims[d];
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        return (outer, dims[axis], inner, (dims[axis] + blockSize - 1) / blockSize);
    }

    /// <summary>The entry of the block grid that element <paramref name="index"/> (flat, row-major) belongs to.</summary>
    public static int EntryOf(int index, ReadOnlySpan<int> dims, int axis, int blockSize)
    {
        var (_, extent, inner, blocks) = Layout(dims, axis, blockSize);
        int i = index % inner, d = index / inner % extent, o = index / inner / extent;
        return (o * blocks + d / blockSize) * inner + i;
    }

    /// <summary>
    /// The round-to-nearest encoding of <paramref name="x"/> blocked along <paramref name="axis"/>: each block's min and max
    /// through <see cref="Encoding.FromMinMaxPerBlock"/> (AIMET's formulas per block).
    /// </summary>
    public static Encoding MinMaxEncoding(Tensor<float> x, int axis, int blockSize, int bitWidth, bool symmetric,
        bool strictSymmetric = false, bool unsignedSymmetric = false)
    {
        var scaleDims = ScaleDims(x.Dims, axis, blockSize);
        var (outer, extent, inner, blocks) = Layout(x.Dims, axis, blockSize);
        int n = outer * blocks * inner;
        var min = new double[n];
        var max = new double[n];
        Array.Fill(min, double.PositiveInfinity);
        Array.Fill(max, double.NegativeInfinity);
        var data = x.Data;
        for (int o = 0, idx = 0; o < outer; o++)
            for (int d = 0; d < extent; d++)
            {
                int row = (o * blocks + d / blockSize) * inner;
                for (int i = 0; i < inner; i++, idx++)
                {
                    float v = data[idx];
                    if (!float.IsFinite(v)) throw new ArgumentException($"BlockQuantization: element {idx} is {v}; a weight must be finite to be quantized");
                    if (v < min[row + i]) min[row + i] = v;
                    if (v > max[row + i]) max[row + i] = v;
                }
            }
        return Encoding.FromMinMaxPerBlock(min, max, scaleDims, axis, blockSize, bitWidth, symmetric, strictSymmetric, unsignedSymmetric);
    }

    /// <summary>The grid level <c>k</c> (offset ≤ k ≤ offset + steps) of every element of <paramref name="x"/> under <paramref name="e"/>.</summary>
    public static int[] Levels(Tensor<float> x, Encoding e)
    {
        var levels = new int[x.Length];
        Walk(x, e, (idx, entry, scale, lo, hi) =>
            levels[idx] = (int)Math.Clamp(MathF.Round(x.Data[idx] / scale, MidpointRounding.ToEven), lo, hi));
        return levels;
    }

    /// <summary>Quantize-dequantize of <paramref name="x"/> under per-block <paramref name="e"/>: <c>k·s</c> per element.</summary>
    public static Tensor<float> FakeQuantize(Tensor<float> x, Encoding e)
    {
        var y = new Tensor<float>(x.Dims);
        var src = x.Data;
        var dst = y.Data;
        Walk(x, e, (idx, entry, scale, lo, hi) =>
            dst[idx] = (float)Math.Clamp(MathF.Round(src[idx] / scale, MidpointRounding.ToEven), lo, hi) * scale);
        return y;
    }

    /// <summary>Straight-through gradient: <paramref name="gradOutput"/> where the element lies inside its block's [min, max], else 0.</summary>
    public static Tensor<float> Backward(Tensor<float> x, Tensor<float> gradOutput, Encoding e)
    {
        var g = new Tensor<float>(x.Dims);
        Walk(x, e, (idx, entry, scale, lo, hi) =>
        {
            float v = x.Data[idx];
            g.Data[idx] = v >= lo * scale && v <= hi * scale ? gradOutput.Data[idx] : 0f;
        });
        return g;
    }

    private delegate void ElementAction(int index, int entry, float scale, long lowest, long highest);

    /// <summary>Visits every element with its block's float scale and level bounds, checking the encoding fits the tensor.</summary>
    private static void Walk(Tensor<float> x, Encoding e, ElementAction action)
    {
        if (e.BlockSize is not { } bs || e.Axis is not { } axis)
            throw new ArgumentException($"BlockQuantization: expected a per-block encoding, got {e}", nameof(e));
        if (axis >= x.Rank)
            throw new ArgumentException($"BlockQuantization: a {e.Granularity} encoding does not fit a tensor of shape [{string.Join(", ", x.Shape)}]", nameof(e));
        var (outer, extent, inner, blocks) = Layout(x.Dims, axis, bs);
        if (outer * blocks * inner != e.Channels)
            throw new ArgumentException($"BlockQuantization: a {e.Granularity} encoding with {e.Channels} blocks does not fit a tensor of shape [{string.Join(", ", x.Shape)}] ({outer * blocks * inner} blocks)", nameof(e));
        var scales = new float[e.Channels];
        for (int c = 0; c < scales.Length; c++) scales[c] = (float)e.Scales[c];
        long steps = e.Steps;
        for (int o = 0, idx = 0; o < outer; o++)
            for (int d = 0; d < extent; d++)
            {
                int row = (o * blocks + d / bs) * inner;
                for (int i = 0; i < inner; i++, idx++)
                {
                    long lo = e.Offsets[row + i];
                    action(idx, row + i, scales[row + i], lo, lo + steps);
                }
            }
    }
}
