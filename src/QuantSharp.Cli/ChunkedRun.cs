using QuantSharp.Engine;

namespace QuantSharp.Cli;

/// <summary>
/// A deliberate memory bound of evaluation: a batch of <c>--batch-size</c> samples goes through the model in runs of at most
/// <see cref="MaxSamples"/> samples, whose score rows are put back together, so the memory of a forward pass does not grow
/// with the batch (MobileNetV2 at 224×224: about 6 MB of values alive at once per sample, and 18 MB per sample of buffers
/// of every size for the pool to reuse them). Inference treats every sample on its own, and the kernels reduce in the same
/// order whatever the batch (checked bit for bit on MobileNetV2, FP32 and the W8A8 sim: convolutions, depthwise, Gemm,
/// pooling, fake quantization), so the scores are those of one run of the whole batch; a model whose first output is not
/// one row per sample is run on whole batches.
/// </summary>
internal sealed class ChunkedRun(Func<Dictionary<string, Tensor>, Tensor<float>> run)
{
    /// <summary>The most samples of one forward pass.</summary>
    public const int MaxSamples = 8;

    private bool _wholeBatches;

    /// <summary>
    /// <paramref name="feeds"/> as runs of at most <see cref="MaxSamples"/> samples (one run when an input has no sample
    /// axis of the batch's length), for evaluations whose figures accumulate sample by sample.
    /// </summary>
    public static IEnumerable<IReadOnlyDictionary<string, Tensor>> Split(IReadOnlyDictionary<string, Tensor> feeds) =>
        Quantization.Techniques.Feeds.Split(feeds, MaxSamples);

    private static Dictionary<string, Tensor> Whole(IReadOnlyDictionary<string, Tensor> feeds) =>
        feeds as Dictionary<string, Tensor> ?? feeds.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    /// <summary>The first output of the model on <paramref name="feeds"/> (every input's first axis is the sample).</summary>
    public Tensor<float> Run(IReadOnlyDictionary<string, Tensor> feeds)
    {
        if (_wholeBatches) return run(Whole(feeds));
        int n = feeds.Values.First().Dims[0], start = 0;
        Tensor<float>? scores = null;
        foreach (var chunk in Split(feeds))
        {
            int count = chunk.Values.First().Dims[0];
            var part = run(Whole(chunk));
            if (count == n) return part;
            if (part.Rank == 0 || part.Dims[0] != count)
            {
                // Not one row per sample: the chunks are no parts of the batch's output.
                _wholeBatches = true;
                return Run(feeds);
            }
            scores ??= Tensor<float>.Uninitialized([n, .. part.Dims[1..]]);
            int row = part.Length / count;
            Array.Copy(part.Data, 0, scores.Data, (long)start * row, part.Length);
            start += count;
        }
        return scores!;
    }
}
