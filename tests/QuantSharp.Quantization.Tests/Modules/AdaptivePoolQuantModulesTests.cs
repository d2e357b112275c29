using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Modules;
using static QuantSharp.Quantization.Tests.Modules.ModuleGraphs;

namespace QuantSharp.Quantization.Tests.Modules;

/// <summary>
/// pytorch-quantization's QuantAdaptiveAvgPool1d/2d/3d on <see cref="GraphBuilder.AdaptiveAvgPool"/>: the pooled input is
/// quantized once, whatever form the pooling takes, and the averaging matrices of the MatMul form are never quantized.
/// </summary>
public class AdaptivePoolQuantModulesTests
{
    // x [2,3,5,7] → conv (keeps the size) → adaptive pool to 3×4 ("pool", MatMul form) → y.
    private static Graph ConvThenPool()
    {
        var b = new GraphBuilder("conv_pool");
        var x = b.Input("x", DataType.Float32, Dim.Fixed(2), Dim.Fixed(3), Dim.Fixed(5), Dim.Fixed(7));
        var h = b.Conv(x, b.Initializer("w", Uniform(1, -0.5f, 0.5f, 4, 3, 3, 3)), null, pads: [1, 1, 1, 1], name: "conv");
        b.Output(b.AdaptiveAvgPool(h, [3, 4], [5, 7], "pool"), name: "y");
        return b.Build();
    }

    [Fact]
    public void Initialize_MatMulForm_QuantizesThePooledInputOnly_AndForwardPoolsTheFakeQuantizedInput()
    {
        var g = ConvThenPool();
        var q = QuantModules.Initialize(g, new QuantModuleOptions { OpTypes = new HashSet<string> { QuantModules.AdaptiveAvgPool } });
        Assert.Equal(["pool.input_quantizer"], q.Quantizers.Keys);
        Assert.Single(q.Graph.Nodes, QuantizerNode.Is);
        var feeds = new Dictionary<string, Tensor> { ["x"] = Uniform(2, -1, 1, 2, 3, 5, 7) };
        q.StartCalibration();
        var run = q.Session.Run(feeds, new RunOptions { Capture = ["conv_out"] });
        Assert.Empty(q.FinishCalibration());
        var convOut = (Tensor<float>)run.Captured["conv_out"];
        Assert.Equal(AbsMax(convOut), q.Quantizers["pool.input_quantizer"].Amax!.Data[0]);

        // The float pool of the fake-quantized conv output, by a graph that pools a fed tensor.
        var b = new GraphBuilder();
        var p = b.Input("p", DataType.Float32, Dim.Fixed(2), Dim.Fixed(4), Dim.Fixed(5), Dim.Fixed(7));
        b.Output(b.AdaptiveAvgPool(p, [3, 4]), name: "y");
        var expected = new Session(b.Build()).Run(new Dictionary<string, Tensor> { ["p"] = q.Quantizers["pool.input_quantizer"].Forward(convOut) }).Output("y");
        AssertClose(expected, q.Session.Run(feeds).Output("y"), 1e-6f);
    }

    [Fact]
    public void Initialize_Default_WrapsConvAndPool_NeverTheAveragingMatrices()
    {
        var q = QuantModules.Initialize(ConvThenPool());
        Assert.Equal(["conv.input_quantizer", "conv.weight_quantizer", "pool.input_quantizer"], q.Quantizers.Keys.Order(StringComparer.Ordinal));
        foreach (var matmul in q.Graph.Nodes.Where(n => n.OpType == "MatMul"))
            Assert.All(matmul.Inputs, i => Assert.False(q.Graph.Producer(i) is { } p && QuantizerNode.Is(p) && q.Graph.Initializers.ContainsKey(p.Inputs[0])));
    }

    [Fact]
    public void Wrap_ByThePoolsName_AndExcludedByOpTypes()
    {
        Assert.Equal(["pool.input_quantizer"], QuantModules.Wrap(ConvThenPool(), ["pool"]).Quantizers.Keys);
        var without = QuantModules.Initialize(ConvThenPool(), new QuantModuleOptions { OpTypes = new HashSet<string> { "Conv", "MatMul" } });
        Assert.Equal(["conv.input_quantizer", "conv.weight_quantizer"], without.Quantizers.Keys.Order(StringComparer.Ordinal));
        // A construction node other than the first is no wrappable node of its own.
        var second = ConvThenPool().Nodes.First(n => GraphBuilder.AdaptiveAvgPoolOf(n) == "pool" && n.Name != "pool");
        var e = Assert.Throws<NotSupportedException>(() => QuantModules.Wrap(ConvThenPool(), [second.Name]));
        Assert.Contains("wrap 'pool'", e.Message);
    }
}
