using QuantSharp.Engine;

namespace QuantSharp.Quantization.Zoo;

/// <summary>One inverted residual block of <see cref="MobileNetV2Small"/>.</summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="OutChannels">Output channels of the 1×1 projection.</param>
/// <param name="Expansion">Hidden width = <paramref name="InChannels"/> · expansion (the 1×1 expand conv is omitted when 1).</param>
/// <param name="Stride">Stride of the depthwise 3×3 conv.</param>
public sealed record InvertedResidual(int InChannels, int OutChannels, int Expansion, int Stride)
{
    /// <summary>Channels of the depthwise conv.</summary>
    public int Hidden => InChannels * Expansion;

    /// <summary>Whether the block adds its input to its output (stride 1 and same channel count).</summary>
    public bool Residual => Stride == 1 && InChannels == OutChannels;
}

/// <summary>
/// A MobileNetV2-style Fashion-MNIST classifier (input "image" [N, 1, 28, 28], output "logits" [N, 10]):
/// stem Conv 3×3 (1→16, stride 2) → BN → ReLU6, five inverted residual blocks (see <see cref="Blocks"/>), a 1×1 head
/// conv (32→64) → BN → ReLU6, GlobalAveragePool, Flatten, Gemm (64→10).
/// </summary>
/// <remarks>
/// Block <c>b{i}</c>: 1×1 expand conv <c>b{i}_expand</c> → BN <c>b{i}_expand_bn</c> → ReLU6 → depthwise 3×3 conv
/// <c>b{i}_dw</c> (group = channels, padding 1) → BN <c>b{i}_dw_bn</c> → ReLU6 → 1×1 projection <c>b{i}_project</c> → BN
/// <c>b{i}_project_bn</c> (linear bottleneck, no activation) → Add with the block input when <see cref="InvertedResidual.Residual"/>.
/// ReLU6 is ONNX Clip(0, 6) (or Relu when <c>relu6</c> is false). Convs before a BN have no bias, as in torchvision.
/// Parameters use PyTorch's default initialization drawn from a generator seeded by <c>seed</c>; BNs start at γ = 1, β = 0,
/// μ = 0, σ² = 1. About 2.0 M multiply-adds per image.
/// </remarks>
public static class MobileNetV2Small
{
    /// <summary>The inverted residual blocks: 16→16 (t 4), 16→24 (t 4, s2, 14→7), 24→24 (t 4), 24→32 (t 4), 32→32 (t 4).</summary>
    public static IReadOnlyList<InvertedResidual> Blocks { get; } =
    [
        new(16, 16, 4, 1),
        new(16, 24, 4, 2),
        new(24, 24, 4, 1),
        new(24, 32, 4, 1),
        new(32, 32, 4, 1),
    ];

    /// <summary>Channels of the stem conv.</summary>
    public const int StemChannels = 16;

    /// <summary>Channels of the 1×1 head conv.</summary>
    public const int HeadChannels = 64;

    /// <summary>Builds the untrained network.</summary>
    /// <param name="seed">Seed of the parameter initialization.</param>
    /// <param name="relu6">True: ReLU6 as Clip(0, 6); false: plain Relu.</param>
    public static Graph Build(int seed = 0, bool relu6 = true)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("mobilenetv2_small", opset: 13);
        var x = b.Input("image", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28));
        Value Act(Value v, string name) => relu6 ? b.Clip(v, 0f, 6f, name) : b.Relu(v, name);
        var h = Act(b.BatchNormLayer(b.ConvLayer(x, 1, StemChannels, 3, rng, "stem", stride: 2, padding: 1, bias: false), StemChannels, "stem_bn"), "stem_relu");
        for (int i = 0; i < Blocks.Count; i++)
        {
            var blk = Blocks[i];
            string p = $"b{i}";
            var input = h;
            if (blk.Expansion != 1)
                h = Act(b.BatchNormLayer(b.ConvLayer(h, blk.InChannels, blk.Hidden, 1, rng, $"{p}_expand", bias: false), blk.Hidden, $"{p}_expand_bn"), $"{p}_expand_relu");
            h = Act(b.BatchNormLayer(b.ConvLayer(h, blk.Hidden, blk.Hidden, 3, rng, $"{p}_dw", stride: blk.Stride, padding: 1, group: blk.Hidden, bias: false),
                blk.Hidden, $"{p}_dw_bn"), $"{p}_dw_relu");
            h = b.BatchNormLayer(b.ConvLayer(h, blk.Hidden, blk.OutChannels, 1, rng, $"{p}_project", bias: false), blk.OutChannels, $"{p}_project_bn");
            if (blk.Residual) h = b.Add(input, h, $"{p}_add");
        }
        int last = Blocks[^1].OutChannels;
        h = Act(b.BatchNormLayer(b.ConvLayer(h, last, HeadChannels, 1, rng, "head", bias: false), HeadChannels, "head_bn"), "head_relu");
        h = b.Flatten(b.GlobalAveragePool(h, "pool"), name: "flatten");
        b.Output(b.LinearLayer(h, HeadChannels, 10, rng, "fc"), name: "logits");
        return b.Build();
    }

    /// <summary>
    /// The (batch norm, next conv) pairs of each block around its depthwise conv — (<c>b{i}_expand_bn</c>, <c>b{i}_dw</c>)
    /// and (<c>b{i}_dw_bn</c>, <c>b{i}_project</c>) — where <see cref="Imbalance.Apply"/> can scale channels without changing
    /// the function once the ReLU6 between them is a Relu (<see cref="Imbalance.ReplaceRelu6WithRelu"/>).
    /// </summary>
    public static IEnumerable<(string Producer, string Consumer)> DepthwisePairs()
    {
        for (int i = 0; i < Blocks.Count; i++)
        {
            if (Blocks[i].Expansion != 1) yield return ($"b{i}_expand_bn", $"b{i}_dw");
            yield return ($"b{i}_dw_bn", $"b{i}_project");
        }
    }
}
