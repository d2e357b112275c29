namespace QuantSharp.Engine;

/// <summary>A named value while building a graph (what a builder method returns and takes).</summary>
/// <param name="Name">The value's name in the graph.</param>
public readonly record struct Value(string Name)
{
    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// Builds a <see cref="Graph"/> in C# with the same nodes ONNX would hold, so networks made here and networks
/// imported from ONNX are the same thing to every pass. Each method appends one node and returns its output.
/// </summary>
/// <example><code>
/// var b = new GraphBuilder("net");
/// var x = b.Input("input", DataType.Float32, Dim.Symbolic("batch"), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28));
/// var y = b.Relu(b.Conv(x, b.Initializer("w", w), null, strides: [2, 2], pads: [1, 1, 1, 1]));
/// b.Output(y);
/// Graph g = b.Build();
/// </code></example>
public sealed partial class GraphBuilder
{
    private readonly Graph _graph;
    private readonly Dictionary<string, int> _counters = new();

    /// <summary>Starts an empty graph named <paramref name="name"/> at opset <paramref name="opset"/>.</summary>
    public GraphBuilder(string name = "graph", long opset = 17)
    {
        _graph = new Graph { Name = name };
        _graph.Opsets[""] = opset;
    }

    /// <summary>Declares a graph input.</summary>
    public Value Input(string name, DataType type, params Dim[] shape)
    {
        _graph.Inputs.Add(new ValueInfo(name, type, shape));
        return new Value(name);
    }

    /// <summary>Adds an initializer (parameter or constant).</summary>
    public Value Initializer(string name, Tensor tensor)
    {
        if (_graph.Initializers.ContainsKey(name)) throw new GraphException($"GraphBuilder: initializer '{name}' already exists");
        _graph.Initializers[name] = tensor;
        return new Value(name);
    }

    /// <summary>Declares <paramref name="value"/> a graph output (optionally under a new name, via renaming).</summary>
    public void Output(Value value, DataType type = DataType.Float32, string? name = null)
    {
        if (name is not null && name != value.Name) _graph.RenameValue(value.Name, name);
        _graph.Outputs.Add(new ValueInfo(name ?? value.Name, type, (IEnumerable<Dim>?)null));
    }

    /// <summary>Appends any node: <paramref name="opType"/> over <paramref name="inputs"/> (null = omitted optional input), with one output per <paramref name="outputCount"/>.</summary>
    public Value[] Op(string opType, Value?[] inputs, int outputCount = 1, string? name = null, string domain = "",
        params (string Name, AttributeValue Value)[] attributes)
    {
        int k = _counters.GetValueOrDefault(opType);
        _counters[opType] = k + 1;
        string nodeName = name ?? $"{opType}_{k}";
        var outputs = Enumerable.Range(0, outputCount).Select(i => _graph.UniqueName(outputCount == 1 ? $"{nodeName}_out" : $"{nodeName}_out{i}")).ToArray();
        int used = inputs.Length;
        while (used > 0 && inputs[used - 1] is null) used--; // trailing omitted optional inputs are dropped, as ONNX writers do
        var node = new Node(opType, inputs.Take(used).Select(v => v?.Name ?? ""), outputs, nodeName, domain);
        foreach (var (n, v) in attributes) node.Attributes[n] = v;
        _graph.Nodes.Add(node);
        return outputs.Select(o => new Value(o)).ToArray();
    }

    /// <summary>Appends a single-output node.</summary>
    public Value Op1(string opType, Value?[] inputs, string? name = null, params (string Name, AttributeValue Value)[] attributes) =>
        Op(opType, inputs, 1, name, "", attributes)[0];

    /// <summary>The graph built so far (validated); the builder should not be used afterwards.</summary>
    public Graph Build()
    {
        GraphValidator.Validate(_graph);
        return _graph;
    }

    internal static (string, AttributeValue) Ints(string name, IEnumerable<int> v) => (name, AttributeValue.FromInts(v));
    internal static (string, AttributeValue) Int(string name, long v) => (name, AttributeValue.FromInt(v));
    internal static (string, AttributeValue) Float(string name, float v) => (name, AttributeValue.FromFloat(v));
    internal static (string, AttributeValue) Str(string name, string v) => (name, AttributeValue.FromString(v));
}
