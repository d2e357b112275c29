using QuantSharp.Engine;

namespace QuantSharp.Quantization.Analysis;

/// <summary>
/// Padding positions of a sequence model. Hugging Face–style exports take an attention mask <c>[batch, sequence]</c>
/// (non-zero for a token, 0 for padding); at padded positions an output whose leading dims are <c>[batch, sequence]</c>
/// holds values nothing downstream reads (attention and pooling mask them), and quantization can change them freely.
/// Comparisons with FP32 (SQNR, cosine, max error) skip those positions; otherwise a BERT's per-token output looks
/// 8–10 dB worse than what a user of its embeddings sees (all-MiniLM-L6-v2, sequences padded to 64).
/// </summary>
public static class PaddingMask
{
    /// <summary>The input names read as attention masks (Hugging Face's, and the original BERT export's).</summary>
    public static IReadOnlyList<string> InputNames { get; } = ["attention_mask", "input_mask"];

    /// <summary>The graph input that is an attention mask (rank 2, one of <see cref="InputNames"/>), or null.</summary>
    public static string? InputOf(Graph graph) =>
        graph.Inputs.FirstOrDefault(i => InputNames.Contains(i.Name, StringComparer.Ordinal) && i.Shape is { Length: 2 })?.Name;

    /// <summary>
    /// Which positions (the first two dims, flattened) of an output of <paramref name="outputDims"/> are tokens, or null
    /// when there is no mask or the output does not start with the mask's dims (nothing is skipped then).
    /// </summary>
    public static bool[]? Valid(Tensor? mask, ReadOnlySpan<int> outputDims)
    {
        if (mask is not { Rank: 2 } || outputDims.Length < 2 || outputDims[0] != mask.Dims[0] || outputDims[1] != mask.Dims[1]) return null;
        var valid = new bool[mask.Length];
        switch (mask)
        {
            case Tensor<long> m: for (int i = 0; i < valid.Length; i++) valid[i] = m.Data[i] != 0; break;
            case Tensor<int> m: for (int i = 0; i < valid.Length; i++) valid[i] = m.Data[i] != 0; break;
            case Tensor<bool> m: for (int i = 0; i < valid.Length; i++) valid[i] = m.Data[i]; break;
            case Tensor<float> m: for (int i = 0; i < valid.Length; i++) valid[i] = m.Data[i] != 0; break;
            default: return null;
        }
        return valid;
    }

    /// <summary><see cref="Valid(Tensor?, ReadOnlySpan{int})"/> with the mask looked up in <paramref name="feeds"/> by <paramref name="maskInput"/>.</summary>
    public static bool[]? Valid(string? maskInput, IReadOnlyDictionary<string, Tensor>? feeds, ReadOnlySpan<int> outputDims) =>
        maskInput is not null && feeds is not null && feeds.TryGetValue(maskInput, out var mask) ? Valid(mask, outputDims) : null;
}
