using QuantSharp.Engine.Runtime;
using ModelGraph = QuantSharp.Engine.Graph;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>The op schema: what it says about ops, and the messages when an op or opset is missing.</summary>
public class OpSchemaTests
{
    private static OpSchema S(string op, string domain = "") => OpRegistry.Default.Schema(op, domain) ?? throw new InvalidOperationException(op);

    [Fact]
    public void LinearLayers_DeclareWeightBiasAndChannelAxes()
    {
        var conv = new Node("Conv", ["x", "w", "b"], ["y"]);
        Assert.Equal(InputRole.Weight, S("Conv").RoleOf(conv, 1));
        Assert.Equal(InputRole.Bias, S("Conv").RoleOf(conv, 2));
        Assert.Equal(0, S("Conv").ChannelAxis(conv, 1, 4));
        Assert.Equal(1, S("ConvTranspose").ChannelAxis(new Node("ConvTranspose", ["x", "w"], ["y"]), 1, 4));
        var gemm = new Node("Gemm", ["a", "b"], ["y"]);
        Assert.Equal(1, S("Gemm").ChannelAxis(gemm, 1, 2));
        Assert.Equal(0, S("Gemm").ChannelAxis(gemm.With("transB", AttributeValue.FromInt(1)), 1, 2));
        Assert.Equal(2, S("MatMul").ChannelAxis(new Node("MatMul", ["a", "b"], ["y"]), 1, 3));
        var lstm = new Node("LSTM", ["x", "w", "r", "b"], ["y"]);
        Assert.Equal([InputRole.Weight, InputRole.Weight, InputRole.Bias, InputRole.Setting], Enumerable.Range(1, 4).Select(i => S("LSTM").RoleOf(lstm, i)));
        Assert.Equal(1, S("LSTM").ChannelAxis(lstm, 2, 3));
        Assert.All(new[] { "Conv", "ConvTranspose", "Gemm", "MatMul" }, op => Assert.True(S(op).Has(OpTraits.LinearLayer)));
    }

    [Fact]
    public void Traits_AndSettings_AsTheGraphPassesNeedThem()
    {
        Assert.All(new[] { "Reshape", "Transpose", "Concat", "MaxPool", "Slice", "Gather" }, op => Assert.True(S(op).Has(OpTraits.DataMovement), op));
        Assert.False(S("Conv").Has(OpTraits.DataMovement));
        Assert.All(new[] { "Relu", "LeakyRelu", "PRelu" }, op => Assert.True(S(op).Has(OpTraits.PositivelyHomogeneous | OpTraits.Elementwise), op));
        Assert.False(S("Sigmoid").Has(OpTraits.PositivelyHomogeneous));
        Assert.All(new[] { "RandomUniform", "Bernoulli", "Dropout" }, op => Assert.True(S(op).Has(OpTraits.Random), op));
        Assert.True(S("If").Has(OpTraits.ControlFlow));
        var clip = new Node("Clip", ["x", "lo", "hi"], ["y"]);
        Assert.Equal(InputRole.Setting, S("Clip").RoleOf(clip, 1));
        Assert.Equal(InputRole.Data, S("Clip").RoleOf(clip, 0));
    }

    [Fact]
    public void OutputTypes_FollowTheOpsRules()
    {
        DataType? Type(string op, int output, params DataType?[] inputs) => S(op).OutputType(new Node(op, inputs.Select((_, i) => $"i{i}"), ["y", "z"]), output, inputs);
        Assert.Equal(DataType.Int64, Type("Shape", 0, DataType.Float32));
        Assert.Equal(DataType.Bool, Type("Less", 0, DataType.Float32, DataType.Float32));
        Assert.Equal(DataType.Int64, Type("TopK", 1, DataType.Float32, DataType.Int64));
        Assert.Equal(DataType.Float32, Type("TopK", 0, DataType.Float32, DataType.Int64));
        Assert.Equal(DataType.Int32, Type("Where", 0, DataType.Bool, DataType.Int32, DataType.Int32));
        var cast = new Node("Cast", ["x"], ["y"]).With("to", AttributeValue.FromInt(7));
        Assert.Equal(DataType.Int64, S("Cast").OutputType(cast, 0, [DataType.Float32]));
    }

    [Fact]
    public void UnknownOp_NamesNodeOpAndOpset()
    {
        var why = OpRegistry.Default.WhyUnsupported(new Node("FancyOp", ["x"], ["y"], "n1"), 17);
        Assert.Equal("node FancyOp 'n1': op 'FancyOp' (opset 17) is not implemented", why);
    }

    [Fact]
    public void OpsetTooOld_NamesTheVersionsThatExist()
    {
        var g = new GraphBuilder("old", opset: 17);
        var x = g.Input("x", DataType.Float32, Dim.Fixed(2));
        g.Output(g.Op1("Mish", [x], "mish1"));
        var ex = Assert.Throws<GraphException>(() => new Session(g.Build()));
        Assert.Contains("node Mish 'mish1': op 'Mish' is implemented from opset 18 on, the model uses opset 17", ex.Message);
    }

    [Fact]
    public void ShapeInference_ConvChannelMismatch_NamedAtCompile()
    {
        var g = new GraphBuilder("conv");
        var x = g.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(4), Dim.Fixed(8), Dim.Fixed(8));
        var w = g.Initializer("w", Tensor.Zeros(2, 3, 3, 3));
        g.Output(g.Conv(x, w, null, name: "c1"));
        var ex = Assert.Throws<GraphException>(() => new Session(g.Build()));
        Assert.Contains("Conv 'c1'", ex.Message);
        Assert.Contains("input has 4 channels", ex.Message);
    }

    [Fact]
    public void ShapeInference_PropagatesThroughConvReshapeGemm()
    {
        var g = new GraphBuilder("net");
        var x = g.Input("x", DataType.Float32, Dim.Symbolic("n"), Dim.Fixed(3), Dim.Fixed(8), Dim.Fixed(8));
        var c = g.Conv(x, g.Initializer("w", Tensor.Zeros(5, 3, 3, 3)), null, strides: [2, 2], pads: [1, 1, 1, 1], name: "c");
        var f = g.Flatten(c, name: "f");
        var y = g.Gemm(f, g.Initializer("fc", Tensor.Zeros(10, 80)), null, transB: true, name: "fc");
        g.Output(y);
        var shapes = new Session(g.Build()).InferredShapes;
        Assert.Equal([-1, 5, 4, 4], shapes[c.Name]);
        Assert.Equal([-1, 80], shapes[f.Name]);
        Assert.Equal([-1, 10], shapes[y.Name]);
    }
}
