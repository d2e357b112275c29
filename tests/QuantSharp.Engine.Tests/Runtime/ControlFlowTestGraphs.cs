using QuantSharp.Engine;
using ModelGraph = QuantSharp.Engine.Graph;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>Small builders for graphs with subgraphs (If branches, Loop/Scan bodies) used by the control-flow tests.</summary>
internal static class ControlFlowTestGraphs
{
    public static Node N(string op, string[] inputs, string[] outputs, string name = "", params (string Name, AttributeValue Value)[] attributes)
    {
        var n = new Node(op, inputs, outputs, name);
        foreach (var (k, v) in attributes) n.Attributes[k] = v;
        return n;
    }

    /// <summary>A subgraph with typed inputs and undeclared-type outputs (as exporters often leave them).</summary>
    public static ModelGraph Body(string name, ValueInfo[] inputs, string[] outputs, params Node[] nodes)
    {
        var g = new ModelGraph { Name = name };
        g.Inputs.AddRange(inputs);
        foreach (var o in outputs) g.Outputs.Add(new ValueInfo(o, DataType.Float32, (IEnumerable<Dim>?)null) { Kind = ValueKind.Untyped });
        g.Nodes.AddRange(nodes);
        return g;
    }

    public static ValueInfo F(string name) => new(name, DataType.Float32, (IEnumerable<Dim>?)null);
    public static ValueInfo I64(string name) => new(name, DataType.Int64, (IEnumerable<Dim>?)null);
    public static ValueInfo B(string name) => new(name, DataType.Bool, (IEnumerable<Dim>?)null);

    public static ModelGraph Outer(ValueInfo[] inputs, string[] outputs, params Node[] nodes)
    {
        var g = new ModelGraph { Name = "main" };
        g.Opsets[""] = 17;
        g.Inputs.AddRange(inputs);
        foreach (var o in outputs) g.Outputs.Add(new ValueInfo(o, DataType.Float32, (IEnumerable<Dim>?)null) { Kind = ValueKind.Untyped });
        g.Nodes.AddRange(nodes);
        return g;
    }

    public static (string, AttributeValue) G(string name, ModelGraph g) => (name, AttributeValue.FromGraph(g));
    public static (string, AttributeValue) I(string name, long v) => (name, AttributeValue.FromInt(v));
    public static (string, AttributeValue) Is(string name, params long[] v) => (name, AttributeValue.FromInts(v));

    public static Tensor<float> Vec(params float[] v) => Tensor.FromArray(v, v.Length);
}
