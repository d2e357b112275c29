using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Quantization.Tests.Zoo;

/// <summary>The full-size zoo builders have torchvision's architectures: its parameter counts, layer counts and output shape.</summary>
public class TorchvisionZooTests
{
    /// <summary>Trainable parameters as torchvision counts them (batch norms' running statistics are buffers, not parameters).</summary>
    private static long Parameters(Graph g) =>
        g.Initializers.Where(kv => !kv.Key.EndsWith(".running_mean", StringComparison.Ordinal) && !kv.Key.EndsWith(".running_var", StringComparison.Ordinal))
            .Where(kv => kv.Key.EndsWith(".weight", StringComparison.Ordinal) || kv.Key.EndsWith(".bias", StringComparison.Ordinal))
            .Sum(kv => (long)kv.Value.Length);

    [Fact]
    public void ResNet18_HasTorchvisionsParameterCountAndLayers()
    {
        var g = ResNet18.Build();
        Assert.Equal(11_689_512, Parameters(g)); // sum(p.numel() for p in torchvision.models.resnet18().parameters())
        Assert.Equal(20, g.Nodes.Count(n => n.OpType == "Conv"));
        Assert.Equal(8, g.Nodes.Count(n => n.OpType == "Add"));
        Assert.Single(g.Nodes, n => n.OpType == "MaxPool");
    }

    [Fact]
    public void MobileNetV2_HasTorchvisionsParameterCountAndLayers()
    {
        var g = MobileNetV2.Build();
        Assert.Equal(3_504_872, Parameters(g)); // sum(p.numel() for p in torchvision.models.mobilenet_v2().parameters())
        Assert.Equal(52, g.Nodes.Count(n => n.OpType == "Conv"));
        Assert.Equal(17, g.Nodes.Count(n => n.OpType == "Conv" && n.Attributes.TryGetValue("group", out var a) && a.AsInt() > 1));
        Assert.Equal(10, g.Nodes.Count(n => n.OpType == "Add"));
        Assert.Equal(35, g.Nodes.Count(n => n.OpType == "Clip"));
    }

    [Fact]
    public void ResNet18_RunsOneImage_GivesThousandFiniteScores()
    {
        var x = Tensor.RandomNormal(new Random(1), 0f, 1f, 1, 3, 224, 224);
        var y = new Session(ResNet18.Build()).Run(x);
        Assert.Equal([1, 1000], y.Shape);
        Assert.All(y.Data, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void MobileNetV2_RunsOneImage_GivesThousandFiniteScores()
    {
        var x = Tensor.RandomNormal(new Random(1), 0f, 1f, 1, 3, 224, 224);
        var y = new Session(MobileNetV2.Build()).Run(x);
        Assert.Equal([1, 1000], y.Shape);
        Assert.All(y.Data, v => Assert.True(float.IsFinite(v)));
    }
}
