using QuantSharp.Engine;

namespace QuantSharp.Quantization.Tests.Blockwise;

/// <summary>Small graphs with every op per-block weights apply to: an embedding Gather, a MatMul, a Gemm with transB.</summary>
internal static class BlockwiseModels
{
    public const int Vocab = 10, Hidden = 64, Out = 16;

    /// <summary>ids [n, 3] → embedding [n, 3, 64] → MatMul [64, 64] → mean over tokens → Gemm(transB) [16, 64] + bias → y [n, 16].</summary>
    public static Graph EmbedMatMulGemm(int seed = 1)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("blockwise", opset: 13);
        var ids = b.Input("ids", DataType.Int64, Dim.Symbolic("n"), Dim.Fixed(3));
        var e = b.Op1("Gather", [b.Initializer("table", Tensor.RandomNormal(rng, 0f, 1f, Vocab, Hidden)), ids], "embed");
        // Per-column outliers make per-block scales matter.
        var w = Tensor.RandomNormal(rng, 0f, 0.2f, Hidden, Hidden);
        for (int k = 0; k < Hidden; k += 7) w.Data[k * Hidden + k % Hidden] *= 8f;
        var h = b.Op1("Relu", [b.MatMul(e, b.Initializer("w1", w), "mm")], "act");
        var pooled = b.Op1("ReduceMean", [h], "pool", ("axes", AttributeValue.FromInts(1L)), ("keepdims", AttributeValue.FromInt(0)));
        var y = b.Gemm(pooled, b.Initializer("w2", Tensor.RandomNormal(rng, 0f, 0.3f, Out, Hidden)), b.Initializer("b2", Tensor.RandomNormal(rng, 0f, 0.1f, Out)),
            transB: true, name: "head");
        b.Output(y, name: "y");
        return b.Build();
    }

    public static Dictionary<string, Tensor> Ids(int n, int seed = 2)
    {
        var rng = new Random(seed);
        return new() { ["ids"] = new Tensor<long>(Enumerable.Range(0, n * 3).Select(_ => (long)rng.Next(Vocab)).ToArray(), n, 3) };
    }
}
