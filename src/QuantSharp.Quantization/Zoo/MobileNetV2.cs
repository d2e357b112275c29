using QuantSharp.Engine;

namespace QuantSharp.Quantization.Zoo;

/// <summary>
/// torchvision's MobileNetV2 (width 1.0; input "input" [N, 3, 224, 224], output "output" [N, 1000]) with random weights
/// (<see cref="HeInitLayers"/>): for timing and export tests at full size, not for accuracy.
/// </summary>
/// <remarks>
/// <c>features.0</c>: Conv 3×3/2 (3→32) → BN → ReLU6; seventeen inverted residual blocks <c>features.1</c>…<c>features.17</c>
/// from <see cref="Settings"/> (1×1 expand → BN → ReLU6 when t ≠ 1, depthwise 3×3 → BN → ReLU6, 1×1 project → BN, Add
/// when stride 1 and channels match); <c>features.18</c>: 1×1 conv 320→1280 → BN → ReLU6; GlobalAveragePool, Flatten,
/// <c>classifier.1</c> (1280→1000; the dropout is omitted, as in an exported inference model). ReLU6 is Clip(0, 6).
/// 0.3 G multiply-adds per image.
/// </remarks>
public static class MobileNetV2
{
    /// <summary>torchvision's inverted residual settings: expansion t, output channels c, repeats n, first stride s.</summary>
    public static IReadOnlyList<(int T, int C, int N, int S)> Settings { get; } =
        [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

    /// <summary>Builds the network with weights drawn from a generator seeded by <paramref name="seed"/>.</summary>
    public static Graph Build(int seed = 0, int classes = 1000)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("mobilenet_v2", opset: 13);
        var x = b.Input("input", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(3), Dim.Fixed(224), Dim.Fixed(224));
        Value ConvBnAct(Value v, int inC, int outC, int k, string p, int stride = 1, int group = 1) =>
            b.Clip(HeInitLayers.ConvBn(b, v, inC, outC, k, rng, $"{p}.0", $"{p}.1", stride, group), 0f, 6f, $"{p}.2");
        var h = ConvBnAct(x, 3, 32, 3, "features.0", stride: 2);
        int c = 32, index = 1;
        foreach (var (t, outC, n, s) in Settings)
            for (int i = 0; i < n; i++, index++)
            {
                int stride = i == 0 ? s : 1, hidden = c * t;
                string p = $"features.{index}.conv";
                var input = h;
                int part = 0;
                if (t != 1) h = ConvBnAct(h, c, hidden, 1, $"{p}.{part++}");
                h = ConvBnAct(h, hidden, hidden, 3, $"{p}.{part++}", stride, group: hidden);
                h = HeInitLayers.ConvBn(b, h, hidden, outC, 1, rng, $"{p}.{part}", $"{p}.{part + 1}");
                if (stride == 1 && c == outC) h = b.Add(input, h, $"features.{index}.add");
                c = outC;
            }
        h = ConvBnAct(h, c, 1280, 1, $"features.{index}");
        h = b.Flatten(b.GlobalAveragePool(h, "pool"), name: "flatten");
        b.Output(HeInitLayers.Linear(b, h, 1280, classes, rng, "classifier.1"), name: "output");
        return b.Build();
    }
}
