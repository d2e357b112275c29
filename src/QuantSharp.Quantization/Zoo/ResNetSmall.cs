using QuantSharp.Engine;

namespace QuantSharp.Quantization.Zoo;

/// <summary>
/// A ResNet-style Fashion-MNIST classifier (input "image" [N, 1, 28, 28], output "logits" [N, 10]): stem Conv 3×3
/// (1→16, stride 2, 28→14) → BN → Relu, three stages of one BasicBlock each — 16 channels at 14×14, 32 at 7×7 (stride 2),
/// 64 at 4×4 (stride 2) — then GlobalAveragePool, Flatten, Gemm (64→10).
/// </summary>
/// <remarks>
/// BasicBlock <c>s{i}</c>: Conv 3×3 <c>s{i}_conv1</c> (stride s) → BN → Relu → Conv 3×3 <c>s{i}_conv2</c> → BN
/// <c>s{i}_bn2</c>, plus the shortcut — the identity, or a 1×1 conv <c>s{i}_down</c> (stride s) → BN when the shape changes —
/// then Add <c>s{i}_add</c> → Relu. Convs before a BN have no bias. PyTorch default initialization from a generator seeded
/// by <c>seed</c>. About 2.6 M multiply-adds per image.
/// </remarks>
public static class ResNetSmall
{
    /// <summary>Channels of each stage.</summary>
    public static IReadOnlyList<int> StageChannels { get; } = [16, 32, 64];

    /// <summary>Builds the untrained network.</summary>
    /// <param name="seed">Seed of the parameter initialization.</param>
    public static Graph Build(int seed = 0)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("resnet_small", opset: 13);
        var x = b.Input("image", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28));
        int c = StageChannels[0];
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 1, c, 3, rng, "stem", stride: 2, padding: 1, bias: false), c, "stem_bn"), "stem_relu");
        for (int i = 0; i < StageChannels.Count; i++)
        {
            int outC = StageChannels[i], stride = i == 0 ? 1 : 2;
            string p = $"s{i}";
            var y = b.Relu(b.BatchNormLayer(b.ConvLayer(h, c, outC, 3, rng, $"{p}_conv1", stride: stride, padding: 1, bias: false), outC, $"{p}_bn1"), $"{p}_relu1");
            y = b.BatchNormLayer(b.ConvLayer(y, outC, outC, 3, rng, $"{p}_conv2", padding: 1, bias: false), outC, $"{p}_bn2");
            var shortcut = stride == 1 && c == outC
                ? h
                : b.BatchNormLayer(b.ConvLayer(h, c, outC, 1, rng, $"{p}_down", stride: stride, bias: false), outC, $"{p}_down_bn");
            h = b.Relu(b.Add(y, shortcut, $"{p}_add"), $"{p}_relu2");
            c = outC;
        }
        h = b.Flatten(b.GlobalAveragePool(h, "pool"), name: "flatten");
        b.Output(b.LinearLayer(h, c, 10, rng, "fc"), name: "logits");
        return b.Build();
    }

    /// <summary>The (batch norm, next conv) pairs inside each BasicBlock — (<c>s{i}_bn1</c>, <c>s{i}_conv2</c>) — joined by a Relu only.</summary>
    public static IEnumerable<(string Producer, string Consumer)> ImbalancePairs() =>
        Enumerable.Range(0, StageChannels.Count).Select(i => ($"s{i}_bn1", $"s{i}_conv2"));
}
