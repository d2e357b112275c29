using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Graph;

public class GraphBuilderTests
{
    /// <summary>The quickstart network of the ONNX issue: Conv-BN-Relu ×2 → Flatten → Gemm → Softmax.</summary>
    internal static Engine.Graph QuickstartNetwork(int seed = 0)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder("quickstart");
        var x = b.Input("input", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28));
        var h = b.Relu(b.BatchNormLayer(b.ConvLayer(x, 1, 128, 3, rng, "conv1", stride: 2, padding: 1), 128, "bn1"));
        h = b.Relu(b.BatchNormLayer(b.ConvLayer(h, 128, 256, 3, rng, "conv2", stride: 2, padding: 1), 256, "bn2"));
        var logits = b.LinearLayer(b.Flatten(h), 256 * 7 * 7, 10, rng, "fc");
        b.Output(b.Softmax(logits, name: "softmax"), name: "probabilities");
        return b.Build();
    }

    [Fact]
    public void Quickstart_HasOnnxNodesInOrder()
    {
        var g = QuickstartNetwork();
        Assert.Equal(["Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Relu", "Flatten", "Gemm", "Softmax"],
            g.Nodes.Select(n => n.OpType));
        var conv1 = g.Nodes[0];
        Assert.Equal(["input", "conv1.weight", "conv1.bias"], conv1.Inputs);
        Assert.Equal([2L, 2L], conv1.GetInts("strides")!);
        Assert.Equal([1L, 1L, 1L, 1L], conv1.GetInts("pads")!);
        Assert.Equal([10, 12544], g.Initializers["fc.weight"].Shape);
        Assert.Equal(1L, g.Nodes[7].GetInt("transB", 0));
        Assert.Equal("probabilities", g.Outputs.Single().Name);
        Assert.Equal("probabilities", g.Nodes[^1].Outputs[0]);
    }

    [Fact]
    public void ConvLayer_InitializesLikePyTorch_WithinBound()
    {
        var g = QuickstartNetwork();
        float bound = 1f / MathF.Sqrt(128 * 9);
        var w = (Tensor<float>)g.Initializers["conv2.weight"];
        Assert.All(w.Data, v => Assert.InRange(v, -bound, bound));
        Assert.True(w.Data.Max() > 0.9f * bound);
    }

    [Fact]
    public void Op_OmittedOptionalInput_IsEmptyName()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", DataType.Float32, Dim.Fixed(1), Dim.Fixed(1), Dim.Fixed(4), Dim.Fixed(4));
        var w = b.Initializer("w", new Tensor<float>(1, 1, 3, 3));
        var y = b.Conv(x, w, null);
        b.Output(y);
        var g = b.Build();
        Assert.Equal(["x", "w"], g.Nodes[0].Inputs);
        Assert.False(g.Nodes[0].Attributes.ContainsKey("group"));
    }

    [Fact]
    public void Build_DanglingValue_IsRejected()
    {
        var b = new GraphBuilder("bad");
        b.Output(b.Relu(new Value("ghost")));
        var ex = Assert.Throws<GraphException>(() => b.Build());
        Assert.Contains("'ghost'", ex.Message);
    }
}
