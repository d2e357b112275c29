namespace QuantSharp.Onnx;

/// <summary>ONNX <c>GraphProto</c>: nodes in topological order over named values, with constant initializers.</summary>
/// <remarks>
/// Sparse initializers (field 15) are rejected on load with an <see cref="InvalidDataException"/>;
/// <c>quantization_annotation</c> (14) and newer fields are kept verbatim in <see cref="OnnxMessage.UnknownFields"/>.
/// </remarks>
public sealed class OnnxGraph : OnnxMessage
{
    /// <summary>Field 1 <c>node</c>: the computation, sorted topologically.</summary>
    public List<OnnxNode> Nodes { get; } = [];

    /// <summary>Field 2 <c>name</c>.</summary>
    public string Name { get => NameOrNull ?? ""; set => NameOrNull = value; }

    /// <summary>Backing value of <see cref="Name"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? NameOrNull;

    /// <summary>Field 5 <c>initializer</c>: named constant tensors (weights).</summary>
    public List<OnnxTensor> Initializers { get; } = [];

    /// <summary>Field 10 <c>doc_string</c>.</summary>
    public string DocString { get => DocStringOrNull ?? ""; set => DocStringOrNull = value; }

    /// <summary>Backing value of <see cref="DocString"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DocStringOrNull;

    /// <summary>Field 11 <c>input</c>.</summary>
    public List<OnnxValueInfo> Inputs { get; } = [];

    /// <summary>Field 12 <c>output</c>.</summary>
    public List<OnnxValueInfo> Outputs { get; } = [];

    /// <summary>Field 13 <c>value_info</c>: types of intermediate values.</summary>
    public List<OnnxValueInfo> ValueInfo { get; } = [];

    /// <summary>The initializer called <paramref name="name"/>, or null.</summary>
    public OnnxTensor? FindInitializer(string name) => Initializers.Find(t => t.Name == name);
}

/// <summary>ONNX <c>NodeProto</c>: one operator application.</summary>
public sealed class OnnxNode : OnnxMessage
{
    /// <summary>Field 1 <c>input</c>: value names; an empty name marks an omitted optional input.</summary>
    public List<string> Inputs { get; } = [];

    /// <summary>Field 2 <c>output</c>: value names.</summary>
    public List<string> Outputs { get; } = [];

    /// <summary>Field 3 <c>name</c>.</summary>
    public string Name { get => NameOrNull ?? ""; set => NameOrNull = value; }

    /// <summary>Backing value of <see cref="Name"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? NameOrNull;

    /// <summary>Field 4 <c>op_type</c>, spelled as ONNX does (e.g. <c>Conv</c>).</summary>
    public string OpType { get => OpTypeOrNull ?? ""; set => OpTypeOrNull = value; }

    /// <summary>Backing value of <see cref="OpType"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? OpTypeOrNull;

    /// <summary>Field 7 <c>domain</c>; empty is the default ONNX domain.</summary>
    public string Domain { get => DomainOrNull ?? ""; set => DomainOrNull = value; }

    /// <summary>Backing value of <see cref="Domain"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DomainOrNull;

    /// <summary>Field 5 <c>attribute</c>.</summary>
    public List<OnnxAttribute> Attributes { get; } = [];

    /// <summary>Field 6 <c>doc_string</c>.</summary>
    public string DocString { get => DocStringOrNull ?? ""; set => DocStringOrNull = value; }

    /// <summary>Backing value of <see cref="DocString"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DocStringOrNull;

    /// <summary>The attribute called <paramref name="name"/>, or null.</summary>
    public OnnxAttribute? FindAttribute(string name) => Attributes.Find(a => a.Name == name);
}
