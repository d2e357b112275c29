using QuantSharp.Engine.Runtime;
using ModelGraph = QuantSharp.Engine.Graph;

namespace QuantSharp.Engine.Tests.Runtime.OpFamilies;

/// <summary>Builds a one-node graph (inputs fed as graph inputs; a null input is an omitted optional one) and runs it.</summary>
internal static class SingleOp
{
    public static ModelGraph Graph(string opType, Tensor?[] inputs, int outputs, long opset, string domain, (string Name, AttributeValue Value)[] attributes)
    {
        var g = new ModelGraph { Name = opType };
        g.Opsets[""] = opset;
        if (domain.Length > 0) g.Opsets[domain] = 1;
        var names = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is not { } t) { names.Add(""); continue; }
            names.Add($"x{i}");
            g.Inputs.Add(new ValueInfo($"x{i}", t.DataType, t.Shape));
        }
        var node = new Node(opType, names, Enumerable.Range(0, outputs).Select(k => $"y{k}"), "op", domain);
        foreach (var (name, value) in attributes) node.Attributes[name] = value;
        g.Nodes.Add(node);
        for (int k = 0; k < outputs; k++) g.Outputs.Add(new ValueInfo($"y{k}", DataType.Float32, (IEnumerable<Dim>?)null));
        return g;
    }

    public static Dictionary<string, Tensor> Feeds(Tensor?[] inputs)
    {
        var feeds = new Dictionary<string, Tensor>();
        for (int i = 0; i < inputs.Length; i++) if (inputs[i] is { } t) feeds[$"x{i}"] = t;
        return feeds;
    }

    /// <summary>Runs <paramref name="opType"/> once and returns its outputs in order.</summary>
    public static Tensor[] Run(string opType, Tensor?[] inputs, long opset = 17, int outputs = 1, string domain = "",
        params (string Name, AttributeValue Value)[] attributes)
    {
        var session = new Session(Graph(opType, inputs, outputs, opset, domain, attributes));
        var run = session.Run(Feeds(inputs));
        return Enumerable.Range(0, outputs).Select(k => run.Outputs[$"y{k}"]).ToArray();
    }

    public static (string, AttributeValue) Int(string name, long v) => (name, AttributeValue.FromInt(v));
    public static (string, AttributeValue) Float(string name, float v) => (name, AttributeValue.FromFloat(v));
    public static (string, AttributeValue) Str(string name, string v) => (name, AttributeValue.FromString(v));
    public static (string, AttributeValue) Ints(string name, params long[] v) => (name, AttributeValue.FromInts(v));
    public static (string, AttributeValue) Floats(string name, params float[] v) => (name, AttributeValue.FromFloats(v));

    public static Tensor<float> F(float[] data, params int[] shape) => Tensor.FromArray(data, shape);
    public static Tensor<long> L(params long[] data) => Tensor.FromArray(data, data.Length);
    public static Tensor<long> Scalar(long v) => Tensor.Scalar(v);
    public static Tensor<float> Scalar(float v) => Tensor.Scalar(v);

    public static void Close(float[] expected, Tensor actual, float tolerance = 1e-5f)
    {
        var a = actual as Tensor<float> ?? throw new Xunit.Sdk.XunitException($"expected a float tensor, got {actual.DataType}");
        Assert.Equal(expected.Length, a.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - a.Data[i]) <= tolerance, $"element {i}: expected {expected[i]}, got {a.Data[i]}");
    }
}
