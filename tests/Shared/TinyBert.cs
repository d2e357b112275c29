using QuantSharp.Engine;

namespace QuantSharp.Tests.Shared;

/// <summary>
/// A BERT-shaped classifier with random weights, built in code (linked as a source file into the test projects that use
/// it): int64 <c>input_ids</c> / <c>attention_mask</c> / <c>token_type_ids</c> [batch, sequence]; word and token-type
/// embeddings, LayerNorm; one encoder layer with two-head self-attention (MatMul+Add projections, the mask as an additive
/// bias before Softmax) and a GELU (Erf) feed-forward, each with a residual and LayerNorm; mean pooling; a Gemm+Tanh pooler
/// and a Gemm classifier giving <c>logits</c> [batch, <see cref="Classes"/>]. The exported model is a few kilobytes.
/// </summary>
internal static class TinyBert
{
    public const int Vocab = 32, Hidden = 16, Heads = 2, Intermediate = 32, Classes = 4;

    public static Graph Build(int seed = 7)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("tiny_bert", opset: 17);
        Tensor<float> W(int rows, int cols) => Tensor.RandomNormal(rng, 0f, 1f / MathF.Sqrt(rows), rows, cols);
        Tensor<float> V(int n, float std) => Tensor.RandomNormal(rng, 0f, std, n);
        var ids = b.Input("input_ids", DataType.Int64, Dim.Symbolic("batch"), Dim.Symbolic("sequence"));
        var mask = b.Input("attention_mask", DataType.Int64, Dim.Symbolic("batch"), Dim.Symbolic("sequence"));
        var types = b.Input("token_type_ids", DataType.Int64, Dim.Symbolic("batch"), Dim.Symbolic("sequence"));

        var words = b.Op1("Gather", [b.Initializer("embeddings.word", Tensor.RandomNormal(rng, 0f, 1f, Vocab, Hidden)), ids], "embed_words");
        var segments = b.Op1("Gather", [b.Initializer("embeddings.type", Tensor.RandomNormal(rng, 0f, 0.3f, 2, Hidden)), types], "embed_types");
        var h = LayerNorm(b, b.Add(words, segments, "embed_sum"), "embeddings.ln", rng);

        // Additive attention bias: 0 where attended, -10000 where masked, broadcast as [batch, 1, 1, sequence].
        var maskFloat = b.Op1("Cast", [mask], "mask_float", ("to", AttributeValue.FromInt(1L))); // to = ONNX FLOAT
        var inverted = b.Sub(b.Initializer("one", Tensor.FromArray(new[] { 1f })), maskFloat, "mask_inverted");
        var maskBias = b.Mul(b.Op1("Unsqueeze", [inverted, b.Initializer("axes12", Tensor.FromArray(new[] { 1L, 2L }, 2))], "mask_4d"),
            b.Initializer("minus_big", Tensor.FromArray(new[] { -10000f })), "mask_bias");

        Value Linear(Value x, int inF, int outF, string name) =>
            b.Add(b.MatMul(x, b.Initializer($"{name}.weight", W(inF, outF)), $"{name}.matmul"), b.Initializer($"{name}.bias", V(outF, 0.1f)), $"{name}.add");
        Value SplitHeads(Value x, string name) =>
            b.Transpose(b.Reshape(x, [0, 0, Heads, Hidden / Heads], $"{name}.reshape"), [0, 2, 1, 3], $"{name}.transpose");

        var q = SplitHeads(Linear(h, Hidden, Hidden, "attention.query"), "q");
        var k = b.Transpose(b.Reshape(Linear(h, Hidden, Hidden, "attention.key"), [0, 0, Heads, Hidden / Heads], "k.reshape"), [0, 2, 3, 1], "k.transpose");
        var v = SplitHeads(Linear(h, Hidden, Hidden, "attention.value"), "v");
        var scores = b.Add(b.Div(b.MatMul(q, k, "attention.scores"), b.Initializer("sqrt_head", Tensor.FromArray(new[] { MathF.Sqrt(Hidden / Heads) })), "attention.scaled"),
            maskBias, "attention.masked");
        var context = b.MatMul(b.Softmax(scores, -1, "attention.softmax"), v, "attention.context");
        var merged = b.Reshape(b.Transpose(context, [0, 2, 1, 3], "context.transpose"), [0, 0, Hidden], "context.reshape");
        var h1 = LayerNorm(b, b.Add(h, Linear(merged, Hidden, Hidden, "attention.output"), "attention.residual"), "attention.ln", rng);

        var up = Linear(h1, Hidden, Intermediate, "ffn.up");
        // GELU as exported by PyTorch: x · 0.5 · (1 + erf(x / √2)).
        var erf = b.Op1("Erf", [b.Div(up, b.Initializer("sqrt2", Tensor.FromArray(new[] { MathF.Sqrt(2f) })), "gelu.scaled")], "gelu.erf");
        var gelu = b.Mul(b.Mul(up, b.Add(erf, b.Initializer("gelu_one", Tensor.FromArray(new[] { 1f })), "gelu.plus_one"), "gelu.product"),
            b.Initializer("half", Tensor.FromArray(new[] { 0.5f })), "gelu");
        var h2 = LayerNorm(b, b.Add(h1, Linear(gelu, Intermediate, Hidden, "ffn.down"), "ffn.residual"), "ffn.ln", rng);

        var pooled = b.Op1("ReduceMean", [h2], "pool", ("axes", AttributeValue.FromInts(1)), ("keepdims", AttributeValue.FromInt(0)));
        var pooler = b.Tanh(b.Gemm(pooled, b.Initializer("pooler.weight", W(Hidden, Hidden)), b.Initializer("pooler.bias", V(Hidden, 0.1f)), name: "pooler"), "pooler.tanh");
        var logits = b.Gemm(pooler, b.Initializer("classifier.weight", W(Hidden, Classes)), b.Initializer("classifier.bias", V(Classes, 0.1f)), name: "classifier");
        b.Output(logits, name: "logits");
        return b.Build();
    }

    private static Value LayerNorm(GraphBuilder b, Value x, string name, Random rng) =>
        b.Op1("LayerNormalization", [x, b.Initializer($"{name}.gamma", Tensor.RandomNormal(rng, 1f, 0.1f, Hidden)), b.Initializer($"{name}.beta", Tensor.RandomNormal(rng, 0f, 0.1f, Hidden))],
            name, ("axis", AttributeValue.FromInt(-1)), ("epsilon", AttributeValue.FromFloat(1e-12f)));

    /// <summary>
    /// <paramref name="samples"/> random sentences of <paramref name="sequence"/> tokens as one batch of named int64 inputs:
    /// [CLS]=2 first, a random length of real tokens, padding (id 0, mask 0) after, the second half of the tokens type 1.
    /// </summary>
    public static Dictionary<string, Tensor> Feeds(int samples, int sequence, int seed)
    {
        var rng = new Random(seed);
        var ids = new long[samples * sequence];
        var mask = new long[samples * sequence];
        var types = new long[samples * sequence];
        for (int s = 0; s < samples; s++)
        {
            int length = 3 + rng.Next(sequence - 2);
            for (int t = 0; t < length; t++)
            {
                ids[s * sequence + t] = t == 0 ? 2 : 5 + rng.Next(Vocab - 5);
                mask[s * sequence + t] = 1;
                types[s * sequence + t] = t >= length / 2 ? 1 : 0;
            }
        }
        return new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["input_ids"] = Tensor.FromArray(ids, samples, sequence),
            ["attention_mask"] = Tensor.FromArray(mask, samples, sequence),
            ["token_type_ids"] = Tensor.FromArray(types, samples, sequence),
        };
    }

    /// <summary><see cref="Feeds"/> split into batches of <paramref name="batchSize"/> samples.</summary>
    public static List<IReadOnlyDictionary<string, Tensor>> Batches(int batches, int batchSize, int sequence, int seed) =>
        Enumerable.Range(0, batches).Select(i => (IReadOnlyDictionary<string, Tensor>)Feeds(batchSize, sequence, seed + i)).ToList();
}
