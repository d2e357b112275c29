using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Graph;

public class GraphEditingTests
{
    // x -> Conv(w) -> c -> Relu -> r -> (output r), and c also read by Add(c, r) -> y (output y)
    private static Engine.Graph Sample()
    {
        var g = new Engine.Graph { Name = "sample" };
        g.Inputs.Add(new ValueInfo("x", DataType.Float32, 1, 3, 8, 8));
        g.Initializers["w"] = new Tensor<float>(4, 3, 3, 3);
        g.Nodes.Add(new Node("Conv", ["x", "w"], ["c"], "conv"));
        g.Nodes.Add(new Node("Relu", ["c"], ["r"], "relu"));
        g.Nodes.Add(new Node("Add", ["c", "r"], ["y"], "add"));
        g.Outputs.Add(new ValueInfo("y", DataType.Float32, (IEnumerable<Dim>?)null));
        g.Outputs.Add(new ValueInfo("r", DataType.Float32, (IEnumerable<Dim>?)null));
        return g;
    }

    [Fact]
    public void ProducerAndConsumers_FindEdges()
    {
        var g = Sample();
        Assert.Equal("conv", g.Producer("c")!.Name);
        Assert.Null(g.Producer("x"));
        Assert.Equal([("relu", 0), ("add", 0)], g.Consumers("c").Select(c => (c.Node.Name, c.Index)));
    }

    [Fact]
    public void TopologicalSort_ReordersShuffledNodes_KeepingValidOrder()
    {
        var g = Sample();
        g.Nodes.Reverse();
        g.TopologicalSort();
        Assert.Equal(["conv", "relu", "add"], g.Nodes.Select(n => n.Name));
    }

    [Fact]
    public void TopologicalSort_Cycle_NamesNodes()
    {
        var g = Sample();
        g.Nodes[0].Inputs[0] = "y"; // conv reads add's output
        var ex = Assert.Throws<GraphException>(() => g.TopologicalSort());
        Assert.Contains("cycle", ex.Message);
        Assert.Contains("Conv 'conv'", ex.Message);
    }

    [Fact]
    public void InsertAfter_RewiresAllReaders_AndOptionallyTheGraphOutput()
    {
        var g = Sample();
        g.InsertAfter(new Node("QuantizeDequantize", ["r"], ["r_q"], "q_r", "com.quantsharp"), rewireGraphOutput: true);
        Assert.Equal(["conv", "relu", "q_r", "add"], g.Nodes.Select(n => n.Name));
        Assert.Equal(["c", "r_q"], g.Nodes[3].Inputs);
        Assert.True(g.IsOutput("r_q"));
        Assert.Empty(GraphValidator.Problems(g));
    }

    [Fact]
    public void InsertAfter_ExistingOutputName_IsRejected()
    {
        var g = Sample();
        var ex = Assert.Throws<GraphException>(() => g.InsertAfter(new Node("Identity", ["c"], ["r"])));
        Assert.Contains("'r'", ex.Message);
    }

    [Fact]
    public void Bypass_RemovesIdentityLikeNode_AndKeepsGraphOutputName()
    {
        var g = Sample();
        g.Bypass(g.Nodes.Single(n => n.Name == "relu"));
        // "r" was a graph output: the conv output takes the name "r" so the interface is unchanged.
        Assert.Equal(["conv", "add"], g.Nodes.Select(n => n.Name));
        Assert.Equal(["r"], g.Nodes[0].Outputs);
        Assert.Equal(["r", "r"], g.Nodes[1].Inputs);
        Assert.Empty(GraphValidator.Problems(g));
    }

    [Fact]
    public void RenameValue_UpdatesInitializersAndReaders()
    {
        var g = Sample();
        g.RenameValue("w", "conv.weight");
        Assert.True(g.Initializers.ContainsKey("conv.weight"));
        Assert.Equal("conv.weight", g.Nodes[0].Inputs[1]);
        Assert.Throws<GraphException>(() => g.RenameValue("c", "x"));
    }

    [Fact]
    public void Validate_ReportsDanglingDuplicateAndUnsupported()
    {
        var g = Sample();
        g.Nodes.Add(new Node("Mystery", ["nowhere"], ["y"], "m"));
        var problems = GraphValidator.Problems(g, n => n.OpType != "Mystery");
        Assert.Contains(problems, p => p.Contains("Mystery 'm'") && p.Contains("'nowhere'"));
        Assert.Contains(problems, p => p.Contains("'y' is defined twice"));
        Assert.Contains(problems, p => p.Contains("op type 'Mystery'") && p.Contains("opset 17"));
        var ex = Assert.Throws<GraphException>(() => GraphValidator.Validate(g));
        Assert.Contains("sample", ex.Message);
    }

    [Fact]
    public void Clone_IsDeep()
    {
        var g = Sample();
        var c = g.Clone();
        c.Nodes[0].Inputs[0] = "z";
        ((Tensor<float>)c.Initializers["w"]).Data[0] = 5f;
        Assert.Equal("x", g.Nodes[0].Inputs[0]);
        Assert.Equal(0f, ((Tensor<float>)g.Initializers["w"]).Data[0]);
    }

    [Fact]
    public void Clone_KeepsDeclaredElementTypes_Int4AndFloat8()
    {
        var g = Sample();
        g.Initializers["i4"] = new Tensor<sbyte>([-8, 7], [2]).AsElementType(DataType.Int4);
        g.Initializers["f8"] = new Tensor<byte>([0x38, 0x7E], [2]).AsElementType(DataType.Float8E4M3FN);
        var c = g.Clone();
        Assert.Equal(DataType.Int4, c.Initializers["i4"].DataType);
        Assert.Equal(DataType.Float8E4M3FN, c.Initializers["f8"].DataType);
        Assert.Equal(new byte[] { 0x38, 0x7E }, ((Tensor<byte>)c.Initializers["f8"]).Data);
        Assert.NotSame(g.Initializers["f8"].RawData, c.Initializers["f8"].RawData);
    }

    [Fact]
    public void EnsureNodeNames_NamesUnnamedNodesUniquely()
    {
        var g = new Engine.Graph();
        g.Nodes.Add(new Node("Relu", ["a"], ["b"]));
        g.Nodes.Add(new Node("Relu", ["b"], ["c"], "Relu_0"));
        g.Nodes.Add(new Node("Relu", ["c"], ["d"]));
        g.EnsureNodeNames();
        Assert.Equal(3, g.Nodes.Select(n => n.Name).Distinct().Count());
    }

    [Fact]
    public void Attributes_WrongKind_NamesNodeAndAttribute()
    {
        var n = new Node("Conv", ["x", "w"], ["y"], "conv").With("strides", AttributeValue.FromInts(2, 2)).With("group", AttributeValue.FromInt(1));
        Assert.Equal([2L, 2L], n.GetInts("strides")!);
        Assert.Equal(1L, n.GetInt("group", 1));
        Assert.Equal(7L, n.GetInt("missing", 7));
        var ex = Assert.Throws<GraphException>(() => n.GetFloat("group", 0));
        Assert.Contains("Conv 'conv'", ex.Message);
        Assert.Contains("group", ex.Message);
    }
}
