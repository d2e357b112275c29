using QuantSharp.Engine;

namespace QuantSharp.Quantization.Preparation;

/// <summary>
/// Batch-norm folding on plain spans and shapes, free of any graph (the graph pass
/// <see cref="ModelPreparer.FoldAllBatchNorms"/> finds the pairs and calls these).
/// </summary>
/// <remarks>
/// A BatchNormalization in inference is the per-channel affine map <c>y_c = s_c·x_c + t_c</c> with
/// <c>s_c = γ_c/√(σ²_c + ε)</c> and <c>t_c = β_c − μ_c·s_c</c>. Folded into the layer before it (whose output channel m
/// it normalizes): <c>W'[m] = s_m·W[m]</c>, <c>b'_m = (b_m − μ_m)·s_m + β_m</c>. Folded into the layer after it (whose
/// input channel c it feeds): <c>W'[:, c] = s_c·W[:, c]</c>, <c>b'_m = b_m + Σ_{c,k} W[m, c, k]·t_c</c>; this is exact only
/// when the layer adds no padding, because padding inserts zeros after the BN, which the folded layer would see as
/// zeros before it (AIMET folds BN→Conv only when the pads are zero).
/// </remarks>
public static class BatchNormFolding
{
    /// <summary>
    /// Folds a BatchNormalization that reads the output of a Conv / ConvTranspose / Gemm into that layer's weight and
    /// bias, in place. <paramref name="bias"/> must hold one entry per output channel (zeros when the layer had none).
    /// </summary>
    /// <remarks><c>W'[m, …] = W[m, …]·γ_m/√(σ²_m + ε)</c>, <c>b'_m = (b_m − μ_m)·γ_m/√(σ²_m + ε) + β_m</c>, with m the output channel of <paramref name="layout"/>.</remarks>
    /// <exception cref="ShapeException">Shapes, lengths, groups or variances do not fit.</exception>
    public static void FoldIntoPreceding(Span<float> weight, ReadOnlySpan<int> weightShape, Span<float> bias,
        BatchNormParameters batchNorm, WeightLayout layout, int groups = 1)
    {
        const string op = "BatchNormFolding.FoldIntoPreceding";
        var geo = Geometry.Of(op, weight.Length, weightShape, layout, groups);
        batchNorm.Validate(op, geo.OutChannels);
        Check.That(bias.Length == geo.OutChannels, op, "bias", $"{geo.OutChannels} entries (one per output channel)", $"{bias.Length}");
        var s = batchNorm.Scale();
        for (int b = 0; b < geo.Blocks; b++)
        {
            var (m, _) = geo.ChannelsOf(b);
            var block = weight.Slice(b * geo.Inner, geo.Inner);
            for (int i = 0; i < block.Length; i++) block[i] *= s[m];
        }
        for (int m = 0; m < bias.Length; m++)
            bias[m] = (float)(((double)bias[m] - batchNorm.Mean[m]) * s[m] + batchNorm.Beta[m]);
    }

    /// <summary>Span form of <see cref="FoldIntoPreceding(Span{float}, ReadOnlySpan{int}, Span{float}, BatchNormParameters, WeightLayout, int)"/>.</summary>
    public static void FoldIntoPreceding(Span<float> weight, ReadOnlySpan<int> weightShape, Span<float> bias,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon,
        WeightLayout layout, int groups = 1) =>
        FoldIntoPreceding(weight, weightShape, bias, new BatchNormParameters(gamma.ToArray(), beta.ToArray(), mean.ToArray(), variance.ToArray(), epsilon), layout, groups);

    /// <summary>
    /// Folds a BatchNormalization whose output is the (only) input of a Conv / Gemm into that layer's weight and bias,
    /// in place. <paramref name="bias"/> must hold one entry per output channel (zeros when the layer had none).
    /// Only exact when the layer does not pad its input (see the class remarks); the caller checks that.
    /// </summary>
    /// <remarks>
    /// With <c>s_c = γ_c/√(σ²_c + ε)</c> and <c>t_c = β_c − μ_c·s_c</c> over input channel c:
    /// <c>b'_m = b_m + Σ_{c,k} W[m, c, k]·t_c</c> (with the original W, accumulated in double), then <c>W'[m, c, k] = W[m, c, k]·s_c</c>.
    /// </remarks>
    /// <exception cref="ShapeException">Shapes, lengths, groups or variances do not fit.</exception>
    public static void FoldIntoFollowing(Span<float> weight, ReadOnlySpan<int> weightShape, Span<float> bias,
        BatchNormParameters batchNorm, WeightLayout layout, int groups = 1)
    {
        const string op = "BatchNormFolding.FoldIntoFollowing";
        var geo = Geometry.Of(op, weight.Length, weightShape, layout, groups);
        batchNorm.Validate(op, geo.InChannels);
        Check.That(bias.Length == geo.OutChannels, op, "bias", $"{geo.OutChannels} entries (one per output channel)", $"{bias.Length}");
        var s = batchNorm.Scale();
        var t = batchNorm.Shift();
        var delta = new double[geo.OutChannels];
        for (int b = 0; b < geo.Blocks; b++)
        {
            var (m, c) = geo.ChannelsOf(b);
            var block = weight.Slice(b * geo.Inner, geo.Inner);
            double sum = 0;
            for (int i = 0; i < block.Length; i++) { sum += block[i]; block[i] *= s[c]; }
            delta[m] += sum * t[c];
        }
        for (int m = 0; m < bias.Length; m++) bias[m] = (float)(bias[m] + delta[m]);
    }

    /// <summary>Span form of <see cref="FoldIntoFollowing(Span{float}, ReadOnlySpan{int}, Span{float}, BatchNormParameters, WeightLayout, int)"/>.</summary>
    public static void FoldIntoFollowing(Span<float> weight, ReadOnlySpan<int> weightShape, Span<float> bias,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon,
        WeightLayout layout, int groups = 1) =>
        FoldIntoFollowing(weight, weightShape, bias, new BatchNormParameters(gamma.ToArray(), beta.ToArray(), mean.ToArray(), variance.ToArray(), epsilon), layout, groups);

    /// <summary>Number of output channels of a weight of shape <paramref name="weightShape"/> in <paramref name="layout"/>.</summary>
    /// <exception cref="ShapeException">The shape does not fit the layout or the groups.</exception>
    public static int OutputChannels(ReadOnlySpan<int> weightShape, WeightLayout layout, int groups = 1) =>
        Geometry.Of("BatchNormFolding.OutputChannels", Shapes.Size(weightShape), weightShape, layout, groups).OutChannels;

    /// <summary>Number of input channels (all groups) of a weight of shape <paramref name="weightShape"/> in <paramref name="layout"/>.</summary>
    /// <exception cref="ShapeException">The shape does not fit the layout or the groups.</exception>
    public static int InputChannels(ReadOnlySpan<int> weightShape, WeightLayout layout, int groups = 1) =>
        Geometry.Of("BatchNormFolding.InputChannels", Shapes.Size(weightShape), weightShape, layout, groups).InChannels;

    /// <summary>
    /// The weight seen as <see cref="Blocks"/> contiguous runs of <see cref="Inner"/> elements (the kernel window of one
    /// (output, input) channel pair), each mapped to its output channel m and input channel c.
    /// </summary>
    private readonly record struct Geometry(WeightLayout Layout, int Blocks, int Inner, int OutChannels, int InChannels, int Axis1, int OutPerGroup, int InPerGroup)
    {
        public static Geometry Of(string op, int length, ReadOnlySpan<int> shape, WeightLayout layout, int groups)
        {
            Check.AtLeast(op, "groups", groups, 1);
            if (layout is WeightLayout.Gemm or WeightLayout.GemmTransposed)
            {
                Check.Rank(op, "weightShape", shape, 2);
                Check.That(groups == 1, op, "groups", "1 for a Gemm weight", $"{groups}");
            }
            else Check.RankBetween(op, "weightShape", shape, 3, 5);
            for (int i = 0; i < shape.Length; i++) Check.AtLeast(op, $"weightShape[{i}]", shape[i], 1);
            Check.That(length == Shapes.Size(shape), op, "weight", $"{Shapes.Size(shape)} elements for shape {Shapes.Format(shape)}", $"{length}");
            int inner = Shapes.Size(shape[2..]);
            switch (layout)
            {
                case WeightLayout.Conv:
                    Check.That(shape[0] % groups == 0, op, "weightShape", $"output channels divisible by groups {groups}", Shapes.Format(shape));
                    return new(layout, shape[0] * shape[1], inner, shape[0], shape[1] * groups, shape[1], shape[0] / groups, shape[1]);
                case WeightLayout.ConvTranspose:
                    Check.That(shape[0] % groups == 0, op, "weightShape", $"input channels divisible by groups {groups}", Shapes.Format(shape));
                    return new(layout, shape[0] * shape[1], inner, shape[1] * groups, shape[0], shape[1], shape[1], shape[0] / groups);
                case WeightLayout.Gemm:
                    return new(layout, shape[0] * shape[1], 1, shape[1], shape[0], shape[1], shape[1], shape[0]);
                case WeightLayout.GemmTransposed:
                    return new(layout, shape[0] * shape[1], 1, shape[0], shape[1], shape[1], shape[0], shape[1]);
                default:
                    throw new ShapeException($"{op}: argument 'layout' expected a WeightLayout, got {(int)layout}");
            }
        }

        /// <summary>(output channel, input channel) of block <paramref name="b"/> (row-major over the first two axes).</summary>
        public (int Out, int In) ChannelsOf(int b)
        {
            int i0 = b / Axis1, i1 = b % Axis1;
            switch (Layout)
            {
                case WeightLayout.Conv: return (i0, i0 / OutPerGroup * InPerGroup + i1);
                case WeightLayout.ConvTranspose: return (i0 / InPerGroup * OutPerGroup + i1, i0);
                case WeightLayout.Gemm: return (i1, i0);
                default: return (i0, i1);
            }
        }
    }
}
