using QuantSharp.Engine;

namespace QuantSharp.Quantization.Zoo;

/// <summary>One MBConv block of <see cref="EfficientNetSmall"/>.</summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="OutChannels">Output channels of the 1×1 projection.</param>
/// <param name="Expansion">Hidden width = <paramref name="InChannels"/> · expansion.</param>
/// <param name="Stride">Stride of the depthwise 3×3 conv.</param>
public sealed record MbConv(int InChannels, int OutChannels, int Expansion, int Stride)
{
    /// <summary>Channels of the depthwise conv.</summary>
    public int Hidden => InChannels * Expansion;

    /// <summary>Channels of the squeeze-and-excitation bottleneck (a quarter of the block input, at least 4).</summary>
    public int Squeeze => Math.Max(4, InChannels / 4);

    /// <summary>Whether the block adds its input to its output (stride 1 and same channel count).</summary>
    public bool Residual => Stride == 1 && InChannels == OutChannels;
}

/// <summary>
/// An EfficientNet-style Fashion-MNIST classifier (input "image" [N, 1, 28, 28], output "logits" [N, 10]): stem Conv 3×3
/// (1→16, stride 2) → BN → SiLU, four MBConv blocks (see <see cref="Blocks"/>), a 1×1 head conv (32→64) → BN → SiLU,
/// GlobalAveragePool, Flatten, Gemm (64→10). It brings the ops EfficientNet adds to MobileNetV2: SiLU (x·Sigmoid(x),
/// exported as Sigmoid and Mul) and squeeze-and-excitation (GlobalAveragePool → 1×1 conv → SiLU → 1×1 conv → Sigmoid →
/// channel-wise Mul, a broadcast over the spatial dimensions).
/// </summary>
/// <remarks>
/// Block <c>m{i}</c>: 1×1 expand conv → BN → SiLU → depthwise 3×3 conv (stride s) → BN → SiLU → SE (<c>m{i}_se_reduce</c>,
/// <c>m{i}_se_expand</c>, with biases) → 1×1 projection → BN → Add with the block input when <see cref="MbConv.Residual"/>.
/// PyTorch default initialization from a generator seeded by <c>seed</c>.
/// </remarks>
public static class EfficientNetSmall
{
    /// <summary>The blocks: 16→16 (t 4), 16→24 (t 4, s2), 24→24 (t 4), 24→32 (t 4, s2).</summary>
    public static IReadOnlyList<MbConv> Blocks { get; } =
    [
        new(16, 16, 4, 1),
        new(16, 24, 4, 2),
        new(24, 24, 4, 1),
        new(24, 32, 4, 2),
    ];

    /// <summary>Channels of the 1×1 head conv.</summary>
    public const int HeadChannels = 64;

    /// <summary>Builds the untrained network.</summary>
    /// <param name="seed">Seed of the parameter initialization.</param>
    public static Graph Build(int seed = 0)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("efficientnet_small", opset: 13);
        var x = b.Input("image", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28));
        Value Silu(Value v, string name) => b.Mul(v, b.Sigmoid(v, name + "_sigmoid"), name);
        var h = Silu(b.BatchNormLayer(b.ConvLayer(x, 1, 16, 3, rng, "stem", stride: 2, padding: 1, bias: false), 16, "stem_bn"), "stem_silu");
        for (int i = 0; i < Blocks.Count; i++)
        {
            var blk = Blocks[i];
            string p = $"m{i}";
            var input = h;
            h = Silu(b.BatchNormLayer(b.ConvLayer(h, blk.InChannels, blk.Hidden, 1, rng, $"{p}_expand", bias: false), blk.Hidden, $"{p}_expand_bn"), $"{p}_expand_silu");
            h = Silu(b.BatchNormLayer(b.ConvLayer(h, blk.Hidden, blk.Hidden, 3, rng, $"{p}_dw", stride: blk.Stride, padding: 1, group: blk.Hidden, bias: false),
                blk.Hidden, $"{p}_dw_bn"), $"{p}_dw_silu");
            var se = b.GlobalAveragePool(h, $"{p}_se_pool");
            se = Silu(b.ConvLayer(se, blk.Hidden, blk.Squeeze, 1, rng, $"{p}_se_reduce"), $"{p}_se_silu");
            se = b.Sigmoid(b.ConvLayer(se, blk.Squeeze, blk.Hidden, 1, rng, $"{p}_se_expand"), $"{p}_se_gate");
            h = b.Mul(h, se, $"{p}_se_scale");
            h = b.BatchNormLayer(b.ConvLayer(h, blk.Hidden, blk.OutChannels, 1, rng, $"{p}_project", bias: false), blk.OutChannels, $"{p}_project_bn");
            if (blk.Residual) h = b.Add(input, h, $"{p}_add");
        }
        h = Silu(b.BatchNormLayer(b.ConvLayer(h, Blocks[^1].OutChannels, HeadChannels, 1, rng, "head", bias: false), HeadChannels, "head_bn"), "head_silu");
        h = b.Flatten(b.GlobalAveragePool(h, "pool"), name: "flatten");
        b.Output(b.LinearLayer(h, HeadChannels, 10, rng, "fc"), name: "logits");
        return b.Build();
    }
}
