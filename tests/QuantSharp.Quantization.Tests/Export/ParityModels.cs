using QuantSharp.Engine;

namespace QuantSharp.Quantization.Tests.Export;

/// <summary>A float model with calibration batches and a held-out batch (partly outside the calibrated range) to compare on.</summary>
internal sealed record ParityModel(Graph Graph, IReadOnlyList<Dictionary<string, Tensor>> Calibration, Dictionary<string, Tensor> Check);

/// <summary>
/// Small models, built in code, that between them give the quantizer config every placement it can make: convolutions with
/// supergroups (Conv+Relu, Conv+BN+Relu, Conv+Clip, Add+Relu), Gemm after Flatten, a 1-D constant, a tiny BERT (int64
/// ids/mask/types, embeddings by Gather, LayerNorm decomposed or fused, attention with the mask Add before Softmax, GELU via
/// Erf, MatMul+Add linears, a pooler), and If / Loop bodies with their own weights.
/// </summary>
internal static class ParityModels
{
    private static (string, AttributeValue) Ints(string name, params long[] v) => (name, AttributeValue.FromInts(v));

    /// <summary>x[2,3,10,10] → Conv+Relu → Conv+BN+Relu → MaxPool → Conv+Clip → Add(residual)+Relu → ×constant → GAP → Flatten → Gemm → logits, a Softmax head, and Sigmoid(pooled).</summary>
    public static ParityModel ConvNet(int seed = 11)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("parity_conv", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3), Dim.Fixed(10), Dim.Fixed(10));
        var c1 = b.Relu(b.Conv(x, b.Initializer("c1.w", Tensor.RandomNormal(rng, 0f, 0.3f, [8, 3, 3, 3])),
            b.Initializer("c1.b", Tensor.RandomUniform(rng, -0.1f, 0.1f, [8])), pads: [1, 1, 1, 1], name: "c1"), "c1_relu");
        var c2 = b.Conv(c1, b.Initializer("c2.w", Tensor.RandomNormal(rng, 0f, 0.2f, [8, 8, 3, 3])), null, pads: [1, 1, 1, 1], name: "c2");
        var bn = b.BatchNormalization(c2, b.Initializer("bn.scale", Tensor.RandomUniform(rng, 0.5f, 1.5f, [8])),
            b.Initializer("bn.bias", Tensor.RandomUniform(rng, -0.2f, 0.2f, [8])), b.Initializer("bn.mean", Tensor.RandomUniform(rng, -0.1f, 0.1f, [8])),
            b.Initializer("bn.var", Tensor.RandomUniform(rng, 0.5f, 1.5f, [8])), name: "bn");
        var pooled = b.MaxPool(b.Relu(bn, "bn_relu"), [2, 2], strides: [2, 2], name: "pool");
        var c3 = b.Clip(b.Conv(pooled, b.Initializer("c3.w", Tensor.RandomNormal(rng, 0f, 0.3f, [8, 8, 1, 1])),
            b.Initializer("c3.b", Tensor.RandomUniform(rng, -0.1f, 0.1f, [8])), name: "c3"), 0f, 6f, "c3_clip");
        var res = b.Relu(b.Add(c3, pooled, "res_add"), "res_relu");
        var scaled = b.Mul(res, b.Initializer("gain", Tensor.RandomUniform(rng, 0.5f, 2f, [8, 1, 1])), "gain_mul");
        var flat = b.Flatten(b.GlobalAveragePool(scaled, "gap"), name: "flat");
        var logits = b.Gemm(flat, b.Initializer("fc.w", Tensor.RandomNormal(rng, 0f, 0.4f, [5, 8])),
            b.Initializer("fc.b", Tensor.RandomUniform(rng, -0.1f, 0.1f, [5])), transB: true, name: "fc");
        var probs = b.Softmax(logits, -1, "probs");
        b.Output(logits);
        b.Output(probs, name: "p");
        // The pooled map is also read by an op that asks for no input quantizer: presets that quantize inputs scope theirs to the readers that ask.
        b.Output(b.Sigmoid(pooled, "pool_sigmoid"), name: "gate");
        var calibration = Enumerable.Range(0, 3).Select(_ => Feed("x", Tensor.RandomNormal(rng, 0f, 1f, [2, 3, 10, 10]))).ToList();
        return new ParityModel(b.Build(), calibration, Feed("x", Tensor.RandomNormal(rng, 0f, 1.3f, [2, 3, 10, 10])));
    }

    private const int Vocab = 30, Hidden = 16, Heads = 2, HeadSize = 8, Ffn = 32, Sequence = 8;

    /// <summary>
    /// One BERT layer as PyTorch exports it: int64 input_ids / attention_mask / token_type_ids [2, 8]; word, position and
    /// type embeddings (Gather); LayerNorm decomposed (ReduceMean, Sub, Pow, Sqrt, Div, affine) or fused
    /// (LayerNormalization, opset 17); two-head self-attention with the (1 − mask)·−10000 Add before Softmax; GELU as
    /// x·(1 + erf(x/√2))·0.5; outputs last_hidden_state and a Tanh pooler over the first token.
    /// </summary>
    public static ParityModel TinyBert(bool fusedLayerNorm = false, int seed = 21)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder(fusedLayerNorm ? "parity_bert_fused_ln" : "parity_bert", opset: fusedLayerNorm ? 17 : 13);
        var ids = b.Input("input_ids", DataType.Int64, Dim.Symbolic("batch"), Dim.Fixed(Sequence));
        var mask = b.Input("attention_mask", DataType.Int64, Dim.Symbolic("batch"), Dim.Fixed(Sequence));
        var types = b.Input("token_type_ids", DataType.Int64, Dim.Symbolic("batch"), Dim.Fixed(Sequence));
        Value W(string name, float std, params int[] shape) => b.Initializer(name, Tensor.RandomNormal(rng, 0f, std, shape));
        Value C(string name, float v) => b.Initializer(name, Tensor.FromArray(new[] { v }));

        var words = b.Op1("Gather", [W("word_embeddings", 1f, Vocab, Hidden), ids], "embed_words");
        var positions = b.Op1("Gather", [W("position_embeddings", 0.3f, Sequence, Hidden),
            b.Initializer("position_ids", new Tensor<long>(Enumerable.Range(0, Sequence).Select(i => (long)i).ToArray(), [1, Sequence]))], "embed_positions");
        var segments = b.Op1("Gather", [W("type_embeddings", 0.3f, 2, Hidden), types], "embed_types");
        var embedded = b.Add(b.Add(words, positions, "embed_add1"), segments, "embed_add2");
        var h0 = LayerNorm(b, rng, embedded, "ln0", fusedLayerNorm);

        Value Linear(Value input, int inF, int outF, string name) =>
            b.Add(b.MatMul(input, W(name + ".weight", 1f / MathF.Sqrt(inF), inF, outF), name + "_matmul"),
                b.Initializer(name + ".bias", Tensor.RandomUniform(rng, -0.1f, 0.1f, [outF])), name + "_bias");
        Value SplitHeads(Value t, string name, long[] perm) =>
            b.Op1("Transpose", [b.Op1("Reshape", [t, b.Initializer(name + "_shape", Tensor.FromArray(new long[] { 0, 0, Heads, HeadSize }, 4))], name + "_reshape")],
                name + "_transpose", Ints("perm", perm));
        var q = SplitHeads(Linear(h0, Hidden, Hidden, "query"), "q", [0, 2, 1, 3]);
        var k = SplitHeads(Linear(h0, Hidden, Hidden, "key"), "k", [0, 2, 3, 1]);
        var v = SplitHeads(Linear(h0, Hidden, Hidden, "value"), "v", [0, 2, 1, 3]);
        var scores = b.Div(b.MatMul(q, k, "scores"), C("sqrt_head", MathF.Sqrt(HeadSize)), "scores_scale");
        var maskFloat = b.Op1("Cast", [mask], "mask_cast", ("to", AttributeValue.FromInt(1)));
        var maskBias = b.Mul(b.Sub(C("one_mask", 1f), maskFloat, "mask_invert"), C("mask_min", -10000f), "mask_bias");
        var mask4 = b.Op1("Unsqueeze", [maskBias, b.Initializer("mask_axes", Tensor.FromArray(new long[] { 1, 2 }, 2))], "mask_unsqueeze");
        var probs = b.Softmax(b.Add(scores, mask4, "mask_add"), -1, "attention_softmax");
        var context = b.Op1("Transpose", [b.MatMul(probs, v, "context")], "context_transpose", Ints("perm", 0, 2, 1, 3));
        var merged = b.Op1("Reshape", [context, b.Initializer("merge_shape", Tensor.FromArray(new long[] { 0, 0, Hidden }, 3))], "context_reshape");
        var h1 = LayerNorm(b, rng, b.Add(Linear(merged, Hidden, Hidden, "attention_output"), h0, "attention_residual"), "ln1", fusedLayerNorm);
        var up = Linear(h1, Hidden, Ffn, "intermediate");
        var erf = b.Op1("Erf", [b.Div(up, C("sqrt2", MathF.Sqrt(2f)), "gelu_div")], "gelu_erf");
        var gelu = b.Mul(b.Mul(up, b.Add(erf, C("gelu_one", 1f), "gelu_add"), "gelu_mul"), C("gelu_half", 0.5f), "gelu_half");
        var h2 = LayerNorm(b, rng, b.Add(Linear(gelu, Ffn, Hidden, "output"), h1, "output_residual"), "ln2", fusedLayerNorm);
        b.Output(h2);
        var first = b.Op1("Gather", [h2, b.Initializer("cls_index", Tensor.Scalar(0L))], "cls", ("axis", AttributeValue.FromInt(1)));
        var pooled = b.Tanh(b.Gemm(first, W("pooler.weight", 0.25f, Hidden, Hidden), b.Initializer("pooler.bias", Tensor.RandomUniform(rng, -0.1f, 0.1f, [Hidden])), name: "pooler"), "pooler_tanh");
        b.Output(pooled, name: "pooler_output");
        var calibration = Enumerable.Range(0, 3).Select(i => TokenFeeds(rng, 4)).ToList();
        return new ParityModel(b.Build(), calibration, TokenFeeds(rng, 3));
    }

    private static Value LayerNorm(GraphBuilder b, Random rng, Value x, string name, bool fused)
    {
        var gamma = b.Initializer(name + ".weight", Tensor.RandomUniform(rng, 0.7f, 1.3f, [Hidden]));
        var beta = b.Initializer(name + ".bias", Tensor.RandomUniform(rng, -0.1f, 0.1f, [Hidden]));
        if (fused) return b.Op1("LayerNormalization", [x, gamma, beta], name, ("axis", AttributeValue.FromInt(-1)), ("epsilon", AttributeValue.FromFloat(1e-12f)));
        var axes = Ints("axes", -1);
        var mean = b.Op1("ReduceMean", [x], name + "_mean", axes);
        var dev = b.Sub(x, mean, name + "_sub");
        var variance = b.Op1("ReduceMean", [b.Op1("Pow", [dev, b.Initializer(name + "_two", Tensor.FromArray(new[] { 2f }))], name + "_pow")], name + "_var", axes);
        var std = b.Op1("Sqrt", [b.Add(variance, b.Initializer(name + "_eps", Tensor.FromArray(new[] { 1e-12f })), name + "_eps_add")], name + "_sqrt");
        return b.Add(b.Mul(b.Div(dev, std, name + "_div"), gamma, name + "_gamma"), beta, name + "_beta");
    }

    /// <summary>Token ids, a padding mask with sequences of 3..8 tokens, and segment ids (second half of each sequence = 1).</summary>
    private static Dictionary<string, Tensor> TokenFeeds(Random rng, int batch)
    {
        var ids = new long[batch * Sequence];
        var mask = new long[batch * Sequence];
        var types = new long[batch * Sequence];
        for (int s = 0; s < batch; s++)
        {
            int length = 3 + rng.Next(Sequence - 2);
            for (int t = 0; t < Sequence; t++)
            {
                bool real = t < length;
                ids[s * Sequence + t] = real ? 1 + rng.Next(Vocab - 1) : 0;
                mask[s * Sequence + t] = real ? 1 : 0;
                types[s * Sequence + t] = real && t >= length / 2 ? 1 : 0;
            }
        }
        return new Dictionary<string, Tensor>
        {
            ["input_ids"] = new Tensor<long>(ids, [batch, Sequence]),
            ["attention_mask"] = new Tensor<long>(mask, [batch, Sequence]),
            ["token_type_ids"] = new Tensor<long>(types, [batch, Sequence]),
        };
    }

    /// <summary>
    /// x[2,8] → MatMul+Add → Relu → If(flag: MatMul by a branch Constant + Add → Sigmoid; else MatMul by another → Tanh) →
    /// Softmax → y. The branches' weights are Constant nodes, as exporters write them.
    /// </summary>
    public static ParityModel IfBranches(int seed = 31)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("parity_if", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(8));
        var flag = b.Input("flag", DataType.Bool);
        var h = b.Relu(b.Add(b.MatMul(x, b.Initializer("w0", Tensor.RandomNormal(rng, 0f, 0.4f, [8, 8])), "mm0"),
            b.Initializer("b0", Tensor.RandomUniform(rng, -0.1f, 0.1f, [8])), "mm0_bias"), "relu0");
        var then = Branch("then", h.Name, "then_out", rng, "Sigmoid", withBias: true);
        var @else = Branch("else", h.Name, "else_out", rng, "Tanh", withBias: false);
        var chosen = b.Op1("If", [flag], "choose", ("then_branch", AttributeValue.FromGraph(then)), ("else_branch", AttributeValue.FromGraph(@else)));
        b.Output(b.Softmax(chosen, -1, "softmax"), name: "y");
        var g = b.Build();
        Dictionary<string, Tensor> F(bool f, float std) => new() { ["x"] = Tensor.RandomNormal(rng, 0f, std, [2, 8]), ["flag"] = new Tensor<bool>([f], []) };
        return new ParityModel(g, [F(true, 1f), F(false, 1f), F(true, 1f), F(false, 1f)], F(true, 1.2f));
    }

    private static Graph Branch(string name, string input, string output, Random rng, string activation, bool withBias)
    {
        var g = new Graph { Name = name };
        string w = name + "_w", mm = name + "_mm", pre = mm;
        g.Nodes.Add(new Node("Constant", [], [w], name + "_w_const").With("value", AttributeValue.FromTensor(Tensor.RandomNormal(rng, 0f, 0.5f, [8, 4]))));
        g.Nodes.Add(new Node("MatMul", [input, w], [mm], name + "_matmul"));
        if (withBias)
        {
            g.Nodes.Add(new Node("Constant", [], [name + "_b"], name + "_b_const").With("value", AttributeValue.FromTensor(Tensor.RandomUniform(rng, -0.2f, 0.2f, [4]))));
            pre = name + "_biased";
            g.Nodes.Add(new Node("Add", [mm, name + "_b"], [pre], name + "_bias"));
        }
        g.Nodes.Add(new Node(activation, [pre], [output], name + "_act"));
        g.Outputs.Add(new ValueInfo(output, DataType.Float32, 2, 4));
        return g;
    }

    /// <summary>x[2,4] → Loop 3×: s ← Tanh(s·W + b) with W, b body Constants (from s₀ = x) → Add x → y.</summary>
    public static ParityModel LoopBody(int seed = 41)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("parity_loop", opset: 13);
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(4));
        var trips = b.Initializer("trips", new Tensor<long>([3], []));
        var body = new Graph { Name = "body" };
        body.Inputs.Add(new ValueInfo("i", DataType.Int64));
        body.Inputs.Add(new ValueInfo("cond_in", DataType.Bool));
        body.Inputs.Add(new ValueInfo("s_in", DataType.Float32, 2, 4));
        body.Nodes.Add(new Node("Constant", [], ["body_w"], "body_w_const").With("value", AttributeValue.FromTensor(Tensor.RandomNormal(rng, 0f, 0.6f, [4, 4]))));
        body.Nodes.Add(new Node("Constant", [], ["body_b"], "body_b_const").With("value", AttributeValue.FromTensor(Tensor.RandomUniform(rng, -0.2f, 0.2f, [4]))));
        body.Nodes.Add(new Node("MatMul", ["s_in", "body_w"], ["body_mm"], "body_matmul"));
        body.Nodes.Add(new Node("Add", ["body_mm", "body_b"], ["body_pre"], "body_bias"));
        body.Nodes.Add(new Node("Tanh", ["body_pre"], ["s_out"], "body_tanh"));
        body.Nodes.Add(new Node("Identity", ["cond_in"], ["cond_out"], "body_cond"));
        body.Outputs.Add(new ValueInfo("cond_out", DataType.Bool));
        body.Outputs.Add(new ValueInfo("s_out", DataType.Float32, 2, 4));
        var final = b.Op1("Loop", [trips, null, x], "loop", ("body", AttributeValue.FromGraph(body)));
        b.Output(b.Add(final, x, "skip"), name: "y");
        var calibration = Enumerable.Range(0, 3).Select(_ => Feed("x", Tensor.RandomNormal(rng, 0f, 1f, [2, 4]))).ToList();
        return new ParityModel(b.Build(), calibration, Feed("x", Tensor.RandomNormal(rng, 0f, 1.2f, [2, 4])));
    }

    private static Dictionary<string, Tensor> Feed(string name, Tensor t) => new() { [name] = t };
}
