namespace QuantSharp.Engine;

/// <summary>
/// One operation of a <see cref="Graph"/>, as ONNX's NodeProto: an op type in a domain, named inputs
/// (empty string = optional input omitted) and outputs, and attributes in their original order.
/// </summary>
public sealed class Node
{
    /// <summary>Creates a node.</summary>
    public Node(string opType, IEnumerable<string> inputs, IEnumerable<string> outputs, string name = "", string domain = "")
    {
        OpType = opType;
        Inputs = new ValueList(this, inputs);
        Outputs = new ValueList(this, outputs);
        _name = name;
        Domain = domain;
    }

    /// <summary>Op type, spelled as ONNX spells it (Conv, Relu, QuantizeLinear, …).</summary>
    public string OpType { get; set; }

    /// <summary>Operator domain: "" (= ai.onnx) or e.g. "com.quantsharp" for our own ops.</summary>
    public string Domain { get; set; }

    private string _name;

    /// <summary>Node name (may be empty; <see cref="Graph.EnsureNodeNames"/> fills names in).</summary>
    public string Name
    {
        get => _name;
        set
        {
            _name = value;
            Owner?.NameUsed(value);
        }
    }

    /// <summary>Input value names; "" marks an omitted optional input.</summary>
    public ValueList Inputs { get; }

    /// <summary>Output value names.</summary>
    public ValueList Outputs { get; }

    /// <summary>The graph whose <see cref="Graph.Nodes"/> holds this node (told of edits), or null.</summary>
    internal Graph? Owner { get; set; }

    /// <summary>Attributes by name, in insertion order.</summary>
    public OrderedDictionary<string, AttributeValue> Attributes { get; } = new();

    /// <summary>Free-text documentation carried through import/export.</summary>
    public string DocString { get; set; } = "";

    /// <summary>"Conv 'conv1'" style label for messages.</summary>
    public string Label => Name.Length > 0 ? $"{OpType} '{Name}'" : $"{OpType} (unnamed, output '{(Outputs.Count > 0 ? Outputs[0] : "")}')";

    /// <summary>Sets an attribute (fluent).</summary>
    public Node With(string name, AttributeValue value)
    {
        Attributes[name] = value;
        return this;
    }

    /// <summary>Integer attribute or <paramref name="fallback"/> when absent.</summary>
    public long GetInt(string name, long fallback) => Attributes.TryGetValue(name, out var v) ? Expect(name, v, AttributeKind.Int).AsInt() : fallback;

    /// <summary>Float attribute or <paramref name="fallback"/> when absent.</summary>
    public float GetFloat(string name, float fallback) => Attributes.TryGetValue(name, out var v) ? Expect(name, v, AttributeKind.Float).AsFloat() : fallback;

    /// <summary>String attribute or <paramref name="fallback"/> when absent.</summary>
    public string GetString(string name, string fallback) => Attributes.TryGetValue(name, out var v) ? Expect(name, v, AttributeKind.String).AsString() : fallback;

    /// <summary>Integer-list attribute or null when absent.</summary>
    public long[]? GetInts(string name) => Attributes.TryGetValue(name, out var v) ? Expect(name, v, AttributeKind.Ints).AsInts() : null;

    /// <summary>Float-list attribute or null when absent.</summary>
    public float[]? GetFloats(string name) => Attributes.TryGetValue(name, out var v) ? Expect(name, v, AttributeKind.Floats).AsFloats() : null;

    /// <summary>Tensor attribute or null when absent.</summary>
    public Tensor? GetTensor(string name) => Attributes.TryGetValue(name, out var v) ? Expect(name, v, AttributeKind.Tensor).AsTensor() : null;

    private AttributeValue Expect(string name, AttributeValue v, AttributeKind kind)
    {
        if (v.Kind != kind)
            throw new GraphException($"node {Label}: attribute '{name}' expected kind {kind}, got {v.Kind}");
        return v;
    }

    /// <summary>A copy with its own input/output lists and attribute table (attribute values are immutable and shared).</summary>
    public Node Clone()
    {
        var n = new Node(OpType, Inputs, Outputs, Name, Domain) { DocString = DocString };
        foreach (var (k, v) in Attributes) n.Attributes[k] = v;
        return n;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Label}({string.Join(", ", Inputs)}) -> ({string.Join(", ", Outputs)})";
}

/// <summary>A graph is malformed or an edit is impossible; the message names the node, value or op.</summary>
public sealed class GraphException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public GraphException(string message) : base(message) { }
}
