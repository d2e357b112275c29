namespace QuantSharp.Engine;

/// <summary>Kinds of node attribute, as ONNX's AttributeProto.AttributeType names them.</summary>
public enum AttributeKind
{
    /// <summary>One float.</summary>
    Float,
    /// <summary>One 64-bit integer.</summary>
    Int,
    /// <summary>One string (ONNX stores bytes; we keep UTF-8 text).</summary>
    String,
    /// <summary>One tensor.</summary>
    Tensor,
    /// <summary>One subgraph.</summary>
    Graph,
    /// <summary>A list of floats.</summary>
    Floats,
    /// <summary>A list of 64-bit integers.</summary>
    Ints,
    /// <summary>A list of strings.</summary>
    Strings,
    /// <summary>A list of tensors.</summary>
    Tensors,
    /// <summary>A list of subgraphs.</summary>
    Graphs,
    /// <summary>One value type (ONNX TYPE_PROTO, e.g. <c>Optional</c>'s <c>type</c>), held as a nameless <see cref="ValueInfo"/>.</summary>
    Type,
}

/// <summary>An immutable node attribute value: one of the ONNX attribute kinds.</summary>
public sealed class AttributeValue
{
    private readonly object _value;

    private AttributeValue(AttributeKind kind, object value)
    {
        Kind = kind;
        _value = value;
    }

    /// <summary>Which kind of value this is.</summary>
    public AttributeKind Kind { get; }

    /// <summary>The value boxed as its natural CLR type (float, long, string, Tensor, Graph or an array of those).</summary>
    public object Value => _value;

    /// <summary>A float attribute.</summary>
    public static AttributeValue FromFloat(float v) => new(AttributeKind.Float, v);
    /// <summary>An integer attribute.</summary>
    public static AttributeValue FromInt(long v) => new(AttributeKind.Int, v);
    /// <summary>A string attribute.</summary>
    public static AttributeValue FromString(string v) => new(AttributeKind.String, v);
    /// <summary>A tensor attribute.</summary>
    public static AttributeValue FromTensor(Tensor v) => new(AttributeKind.Tensor, v);
    /// <summary>A subgraph attribute.</summary>
    public static AttributeValue FromGraph(Graph v) => new(AttributeKind.Graph, v);
    /// <summary>A float-list attribute.</summary>
    public static AttributeValue FromFloats(params float[] v) => new(AttributeKind.Floats, v.ToArray());
    /// <summary>An integer-list attribute.</summary>
    public static AttributeValue FromInts(params long[] v) => new(AttributeKind.Ints, v.ToArray());
    /// <summary>An integer-list attribute from ints.</summary>
    public static AttributeValue FromInts(IEnumerable<int> v) => new(AttributeKind.Ints, v.Select(x => (long)x).ToArray());
    /// <summary>A string-list attribute.</summary>
    public static AttributeValue FromStrings(params string[] v) => new(AttributeKind.Strings, v.ToArray());
    /// <summary>A tensor-list attribute.</summary>
    public static AttributeValue FromTensors(params Tensor[] v) => new(AttributeKind.Tensors, v.ToArray());
    /// <summary>A subgraph-list attribute.</summary>
    public static AttributeValue FromGraphs(params Graph[] v) => new(AttributeKind.Graphs, v.ToArray());

    /// <summary>A type attribute: the kind, element type and shape of <paramref name="v"/> (its name is ignored).</summary>
    public static AttributeValue FromType(ValueInfo v) => new(AttributeKind.Type, v.Clone());

    /// <summary>The type (a copy, named "").</summary>
    public ValueInfo AsType()
    {
        var v = As<ValueInfo>(AttributeKind.Type).Clone();
        v.Name = "";
        return v;
    }

    /// <summary>The float; throws naming the kind when this is not a float.</summary>
    public float AsFloat() => As<float>(AttributeKind.Float);
    /// <summary>The integer.</summary>
    public long AsInt() => As<long>(AttributeKind.Int);
    /// <summary>The string.</summary>
    public string AsString() => As<string>(AttributeKind.String);
    /// <summary>The tensor.</summary>
    public Tensor AsTensor() => As<Tensor>(AttributeKind.Tensor);
    /// <summary>The subgraph.</summary>
    public Graph AsGraph() => As<Graph>(AttributeKind.Graph);
    /// <summary>The float list (a copy).</summary>
    public float[] AsFloats() => (float[])As<float[]>(AttributeKind.Floats).Clone();
    /// <summary>The integer list (a copy).</summary>
    public long[] AsInts() => (long[])As<long[]>(AttributeKind.Ints).Clone();
    /// <summary>The string list (a copy).</summary>
    public string[] AsStrings() => (string[])As<string[]>(AttributeKind.Strings).Clone();
    /// <summary>The tensor list (a copy of the list).</summary>
    public Tensor[] AsTensors() => (Tensor[])As<Tensor[]>(AttributeKind.Tensors).Clone();
    /// <summary>The subgraph list (a copy of the list).</summary>
    public Graph[] AsGraphs() => (Graph[])As<Graph[]>(AttributeKind.Graphs).Clone();

    private T As<T>(AttributeKind expected)
    {
        if (Kind != expected) throw new InvalidOperationException($"Attribute: expected kind {expected}, got {Kind}");
        return (T)_value;
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        AttributeKind.Floats => "[" + string.Join(",", (float[])_value) + "]",
        AttributeKind.Ints => "[" + string.Join(",", (long[])_value) + "]",
        AttributeKind.Strings => "[" + string.Join(",", (string[])_value) + "]",
        AttributeKind.Tensor => ((Tensor)_value).DataType + Shapes.Format(((Tensor)_value).Dims),
        AttributeKind.Graph => "graph " + ((Graph)_value).Name,
        AttributeKind.Type => "type " + ((ValueInfo)_value).ToString().TrimStart(':', ' '),
        _ => Convert.ToString(_value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
