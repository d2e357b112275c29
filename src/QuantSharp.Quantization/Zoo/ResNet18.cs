using QuantSharp.Engine;

namespace QuantSharp.Quantization.Zoo;

/// <summary>
/// torchvision's ResNet-18 (input "input" [N, 3, 224, 224], output "output" [N, 1000]) with random weights
/// (<see cref="HeInitLayers"/>): for timing and export tests at full size, not for accuracy.
/// </summary>
/// <remarks>
/// Stem <c>conv1</c> 7×7/2 (3→64) → <c>bn1</c> → Relu → MaxPool 3×3/2; four layers of two BasicBlocks (64, 128, 256, 512
/// channels; the first block of layers 2–4 has stride 2 and a 1×1/2 conv + BN shortcut <c>layer{i}.0.downsample</c>);
/// GlobalAveragePool, Flatten, <c>fc</c> (512→1000). Node names follow torchvision's module names. 1.8 G multiply-adds per image.
/// </remarks>
public static class ResNet18
{
    /// <summary>Channels of layers 1–4.</summary>
    public static IReadOnlyList<int> LayerChannels { get; } = [64, 128, 256, 512];

    /// <summary>Builds the network with weights drawn from a generator seeded by <paramref name="seed"/>.</summary>
    public static Graph Build(int seed = 0, int classes = 1000)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("resnet18", opset: 13);
        var x = b.Input("input", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(3), Dim.Fixed(224), Dim.Fixed(224));
        var h = b.Relu(HeInitLayers.ConvBn(b, x, 3, 64, 7, rng, "conv1", "bn1", stride: 2), "relu");
        h = b.MaxPool(h, [3, 3], [2, 2], [1, 1, 1, 1], name: "maxpool");
        int c = 64;
        for (int layer = 0; layer < LayerChannels.Count; layer++)
        {
            int outC = LayerChannels[layer];
            for (int block = 0; block < 2; block++)
            {
                int stride = layer > 0 && block == 0 ? 2 : 1;
                string p = $"layer{layer + 1}.{block}";
                var y = b.Relu(HeInitLayers.ConvBn(b, h, c, outC, 3, rng, $"{p}.conv1", $"{p}.bn1", stride), $"{p}.relu1");
                y = HeInitLayers.ConvBn(b, y, outC, outC, 3, rng, $"{p}.conv2", $"{p}.bn2");
                var shortcut = stride == 1 && c == outC ? h : HeInitLayers.ConvBn(b, h, c, outC, 1, rng, $"{p}.downsample.0", $"{p}.downsample.1", stride);
                h = b.Relu(b.Add(y, shortcut, $"{p}.add"), $"{p}.relu2");
                c = outC;
            }
        }
        h = b.Flatten(b.GlobalAveragePool(h, "avgpool"), name: "flatten");
        b.Output(HeInitLayers.Linear(b, h, c, classes, rng, "fc"), name: "output");
        return b.Build();
    }
}
