using static QuantSharp.Engine.Tests.Runtime.OpFamilies.SingleOp;

namespace QuantSharp.Engine.Tests.Runtime.OpFamilies;

public class TextOpsTests
{
    // Pool: unigrams 1 and 2, bigram (1, 2); input 1 3 2 1 2.
    // Skip 0 bigrams: (1,3) (3,2) (2,1) (1,2) → one (1,2); skip 1 bigrams: (1,2) (3,1) (2,2) → one more.
    private static float[] Vectorize(Tensor x, string mode, long minGram = 1, long maxSkip = 0, long[]? indexes = null, float[]? weights = null)
    {
        var attributes = new List<(string, AttributeValue)>
        {
            Str("mode", mode), Int("min_gram_length", minGram), Int("max_gram_length", 2), Int("max_skip_count", maxSkip),
            Ints("ngram_counts", 0, 2), Ints("pool_int64s", 1, 2, 1, 2), Ints("ngram_indexes", indexes ?? [0, 1, 2]),
        };
        if (weights is not null) attributes.Add(Floats("weights", weights));
        return ((Tensor<float>)Run("TfIdfVectorizer", [x], 9, attributes: attributes.ToArray())[0]).Data;
    }

    private static readonly Tensor<long> Tokens = L(1, 3, 2, 1, 2);

    [Fact]
    public void TfIdf_TermFrequency_CountsSkipGrams_ButUnigramsOnce()
    {
        Assert.Equal(new float[] { 2, 2, 1 }, Vectorize(Tokens, "TF"));
        Assert.Equal(new float[] { 2, 2, 2 }, Vectorize(Tokens, "TF", maxSkip: 1));
        Assert.Equal(new float[] { 0, 0, 2 }, Vectorize(Tokens, "TF", minGram: 2, maxSkip: 1));
    }

    [Fact]
    public void TfIdf_IdfAndTfIdf_ApplyPerNgramWeights()
    {
        float[] w = [0.5f, 0.25f, 2f];
        Assert.Equal(new float[] { 0.5f, 0.25f, 2f }, Vectorize(Tokens, "IDF", maxSkip: 1, weights: w));
        Assert.Equal(new float[] { 1f, 0.5f, 4f }, Vectorize(Tokens, "TFIDF", maxSkip: 1, weights: w));
        // IDF marks presence, whatever the count: 2 3 2 has unigram 2 (twice), neither unigram 1 nor the bigram.
        Assert.Equal(new float[] { 0f, 1f, 0f }, Vectorize(Tensor.FromArray(new long[] { 2, 3, 2 }, 3), "IDF"));
    }

    [Fact]
    public void TfIdf_NgramIndexes_PlaceCounts_AndRowsStayApart()
    {
        // Bigram counted into slot 0, unigram 1 into slot 2, unigram 2 into slot 1.
        Assert.Equal(new float[] { 1, 2, 2 }, Vectorize(Tokens, "TF", indexes: [2, 1, 0]));
        var batch = Tensor.FromArray(new int[] { 1, 2, 7, 2, 2, 2 }, 2, 3); // int32 input, two rows
        Assert.Equal(new float[] { 1, 1, 1, 0, 3, 0 }, Vectorize(batch, "TF"));
    }
}
