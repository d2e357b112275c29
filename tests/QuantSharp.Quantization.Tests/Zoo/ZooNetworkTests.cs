using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Training;
using QuantSharp.Quantization.Preparation;
using QuantSharp.Quantization.Techniques;
using QuantSharp.Quantization.Tests.Preparation;
using QuantSharp.Quantization.Zoo;

namespace QuantSharp.Quantization.Tests.Zoo;

public class ZooNetworkTests
{
    public static TheoryData<string> Networks => ["mobilenetv2", "resnet"];

    private static Graph Build(string net, int seed = 3) => net == "mobilenetv2" ? MobileNetV2Small.Build(seed) : ResNetSmall.Build(seed);

    private static Dictionary<string, Tensor> Feed(int batch, int seed) =>
        new() { ["image"] = Tensor.RandomUniform(new Random(seed), 0f, 1f, batch, 1, 28, 28) };

    /// <summary>Gives every BN of the graph random γ, β, μ, σ² so that folding and equalization have something to move.</summary>
    private static Graph WithRandomBatchNorms(Graph g, int seed)
    {
        var rng = new Random(seed);
        foreach (var n in g.Nodes.Where(n => n.OpType == "BatchNormalization")) PreparationTestGraphs.RandomizeBatchNorm(g, n.Name, rng);
        return g;
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Build_RunsOnABatch_AndOutputsTenLogitsPerImage(string net)
    {
        var g = Build(net);
        var y = new Session(g).Run(Feed(3, 1)).Output("logits");
        Assert.Equal([3, 10], y.Shape);
        Assert.All(y.Data, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void MobileNetV2Small_HasDepthwiseConvsReLU6AndResidualAdds()
    {
        var g = MobileNetV2Small.Build();
        var dw = g.Nodes.Where(n => n.Name.EndsWith("_dw", StringComparison.Ordinal)).ToList();
        Assert.Equal(MobileNetV2Small.Blocks.Count, dw.Count);
        Assert.All(dw, n => Assert.Equal(g.Initializers[n.Inputs[1]].Dims[0], (int)n.GetInt("group", 1)));
        Assert.Equal(2 + 2 * MobileNetV2Small.Blocks.Count, g.Nodes.Count(n => n.OpType == "Clip"));
        Assert.Equal(MobileNetV2Small.Blocks.Count(b => b.Residual), g.Nodes.Count(n => n.OpType == "Add"));
        Assert.Equal(0, MobileNetV2Small.Build(relu6: false).Nodes.Count(n => n.OpType == "Clip"));
    }

    [Fact]
    public void ResNetSmall_HasThreeBasicBlocksWithTwoDownsampleShortcuts()
    {
        var g = ResNetSmall.Build();
        Assert.Equal(3, g.Nodes.Count(n => n.OpType == "Add"));
        Assert.Equal(["s1_down", "s2_down"], g.Nodes.Where(n => n.Name.EndsWith("_down", StringComparison.Ordinal)).Select(n => n.Name));
        Assert.Equal(1 + 3 * 2 + 2, g.Nodes.Count(n => n.OpType == "Conv"));
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Build_SameSeedSameParameters_OtherSeedOthers(string net)
    {
        var a = Build(net, 5);
        var b = Build(net, 5);
        var c = Build(net, 6);
        Assert.Equal(a.Initializers["fc.weight"].RawData, b.Initializers["fc.weight"].RawData);
        Assert.NotEqual(a.Initializers["fc.weight"].RawData, c.Initializers["fc.weight"].RawData);
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void OneTrainingStep_LowersTheLossOnASmallBatch(string net)
    {
        // Every op (grouped/depthwise Conv, BN in training mode, Clip, Add, GlobalAveragePool, Gemm) has a gradient rule.
        var g = Build(net);
        var x = (Tensor<float>)Feed(8, 2)["image"];
        int[] labels = [0, 1, 2, 3, 4, 5, 6, 7];
        var trainer = new GraphTrainer(new Session(g), new SgdOptimizer(GraphTrainer.Parameters(g), learningRate: 0.05f));
        float before = trainer.Step(x, labels);
        float after = trainer.Step(x, labels); // the loss of the updated parameters on the same batch
        Assert.True(float.IsFinite(before) && after < before, $"{net}: loss {before} → {after}");
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void FoldAllBatchNorms_PreservesOutputs(string net)
    {
        var g = WithRandomBatchNorms(Build(net), 9);
        var before = g.Clone();
        var report = ModelPreparer.FoldAllBatchNorms(g);
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "BatchNormalization");
        Assert.NotEmpty(report.Folded);
        PreparationTestGraphs.AssertSameOutputs(before, g, Feed(4, 3), 1e-4f);
    }

    [Fact]
    public void EqualizeModel_MobileNetV2Small_EqualizesDepthwiseTriplets_AndPreservesFp32Outputs()
    {
        var g = WithRandomBatchNorms(MobileNetV2Small.Build(4), 10);
        var before = g.Clone();
        var report = CrossLayerEqualization.EqualizeModel(g);
        Assert.Contains(report.Equalized, e => e.Kind == "depthwise triplet");
        PreparationTestGraphs.AssertSameOutputs(before, g, Feed(4, 4), 1e-4f);
    }
}
