using QuantSharp.Engine;
using QuantSharp.Engine.Runtime;
using ModelGraph = QuantSharp.Engine.Graph;

namespace QuantSharp.Engine.Tests.Runtime;

/// <summary>One LSTM / GRU / RNN node in a graph, run through <see cref="Session"/>.</summary>
internal static class RecurrentTestSupport
{
    public static readonly string[] InputNames = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"];

    /// <summary>
    /// A graph with one <paramref name="op"/> node: X and the initial states are graph inputs, the rest initializers.
    /// <paramref name="outputs"/> names the node's outputs ("" = omitted); each non-empty one is a graph output.
    /// </summary>
    public static ModelGraph OneNode(string op, Tensor?[] inputs, string[] outputs, long opset = 14, params (string, AttributeValue)[] attributes)
    {
        var g = new ModelGraph { Name = op };
        g.Opsets[""] = opset;
        var names = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is not { } t) { names.Add(""); continue; }
            string name = InputNames[i];
            if (name is "X" or "initial_h" or "initial_c") g.Inputs.Add(new ValueInfo(name, t.DataType, t.Dims.ToArray()));
            else g.Initializers[name] = t;
            names.Add(name);
        }
        while (names.Count > 0 && names[^1].Length == 0) names.RemoveAt(names.Count - 1);
        var node = new Node(op, names, outputs, "rec");
        foreach (var (k, v) in attributes) node.Attributes[k] = v;
        g.Nodes.Add(node);
        foreach (var o in outputs) if (o.Length > 0) g.Outputs.Add(new ValueInfo(o, DataType.Float32, (IEnumerable<Dim>?)null));
        return g;
    }

    /// <summary>Feeds for the graph inputs of <see cref="OneNode"/>.</summary>
    public static Dictionary<string, Tensor> Feeds(Tensor?[] inputs)
    {
        var feeds = new Dictionary<string, Tensor>();
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i] is { } t && InputNames[i] is "X" or "initial_h" or "initial_c") feeds[InputNames[i]] = t;
        return feeds;
    }

    /// <summary>Runs one node and returns its outputs Y, Y_h (, Y_c) by name.</summary>
    public static RunResult Run(string op, Tensor?[] inputs, string[] outputs, params (string, AttributeValue)[] attributes)
    {
        var s = new Session(OneNode(op, inputs, outputs, 14, attributes));
        return s.Run(Feeds(inputs));
    }

    public static (string, AttributeValue) Attr(string name, long v) => (name, AttributeValue.FromInt(v));
    public static (string, AttributeValue) Attr(string name, float v) => (name, AttributeValue.FromFloat(v));
    public static (string, AttributeValue) Attr(string name, string v) => (name, AttributeValue.FromString(v));
    public static (string, AttributeValue) Strings(string name, params string[] v) => (name, AttributeValue.FromStrings(v));
    public static (string, AttributeValue) Floats(string name, params float[] v) => (name, AttributeValue.FromFloats(v));

    public static Tensor<float> T(float[] data, params int[] shape) => Tensor.FromArray(data, shape);

    public static void Near(double[] expected, Tensor actual, double tolerance = 1e-5)
    {
        var a = ((Tensor<float>)actual).Data;
        Assert.Equal(expected.Length, a.Length);
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(expected[i] - a[i]) <= tolerance, $"element {i}: expected {expected[i]}, got {a[i]}");
    }

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
