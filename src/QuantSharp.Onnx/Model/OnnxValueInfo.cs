namespace QuantSharp.Onnx;

/// <summary>ONNX <c>ValueInfoProto</c>: the name and type of a graph input, output or intermediate value.</summary>
public sealed class OnnxValueInfo : OnnxMessage
{
    /// <summary>Field 1 <c>name</c>.</summary>
    public string Name { get => NameOrNull ?? ""; set => NameOrNull = value; }

    /// <summary>Backing value of <see cref="Name"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? NameOrNull;

    /// <summary>Field 2 <c>type</c>, or null when absent.</summary>
    public OnnxType? Type { get; set; }

    /// <summary>Field 3 <c>doc_string</c>.</summary>
    public string DocString { get => DocStringOrNull ?? ""; set => DocStringOrNull = value; }

    /// <summary>Backing value of <see cref="DocString"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DocStringOrNull;

    /// <summary>
    /// A tensor value of element type <paramref name="elemType"/> and shape <paramref name="dims"/>: an <c>int</c> or
    /// <c>long</c> gives a fixed dimension, a <c>string</c> a symbolic one (dim_param), null an unknown one.
    /// </summary>
    public static OnnxValueInfo Tensor(string name, OnnxDataType elemType, params object?[] dims)
    {
        var shape = new OnnxShape();
        foreach (var d in dims)
        {
            shape.Dims.Add(d switch
            {
                null => new OnnxDimension(),
                string p => new OnnxDimension { Param = p },
                int i => new OnnxDimension { Value = i },
                long l => new OnnxDimension { Value = l },
                _ => throw new ArgumentException($"OnnxValueInfo.Tensor: argument 'dims' expected int, long, string or null entries, got {d.GetType().Name}", nameof(dims)),
            });
        }
        return new OnnxValueInfo { Name = name, Type = new OnnxType { Tensor = new OnnxTensorType { ElemType = elemType, Shape = shape } } };
    }
}

/// <summary>ONNX <c>TypeProto</c>: a tensor, sequence or optional type (the value cases the engine runs).</summary>
/// <remarks>
/// Map (5) and sparse tensor (8) types are kept opaque, verbatim in <see cref="OnnxMessage.UnknownFields"/>; then
/// <see cref="Tensor"/>, <see cref="Sequence"/> and <see cref="Optional"/> are all null and <see cref="IsMap"/> tells a map.
/// </remarks>
public sealed class OnnxType : OnnxMessage
{
    /// <summary>Field 1 <c>tensor_type</c>, or null for non-tensor types.</summary>
    public OnnxTensorType? Tensor { get; set; }

    /// <summary>Field 4 <c>sequence_type</c>: the element type of a sequence, or null when this is not a sequence.</summary>
    public OnnxElementType? Sequence { get; set; }

    /// <summary>Field 9 <c>optional_type</c>: the element type of an optional, or null when this is not an optional.</summary>
    public OnnxElementType? Optional { get; set; }

    /// <summary>True when the (opaque) <c>map_type</c> field 5 is present.</summary>
    public bool IsMap => UnknownFields.Any(f => f.Length > 0 && f.Span[0] == (5 << 3 | 2));

    /// <summary>A sequence of <paramref name="element"/>.</summary>
    public static OnnxType SequenceOf(OnnxType element) => new() { Sequence = new OnnxElementType { ElemType = element } };

    /// <summary>An optional of <paramref name="element"/>.</summary>
    public static OnnxType OptionalOf(OnnxType element) => new() { Optional = new OnnxElementType { ElemType = element } };

    /// <summary>Field 6 <c>denotation</c>.</summary>
    public string Denotation { get => DenotationOrNull ?? ""; set => DenotationOrNull = value; }

    /// <summary>Backing value of <see cref="Denotation"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DenotationOrNull;
}

/// <summary>ONNX <c>TypeProto.Tensor</c>: element type and (optional) shape.</summary>
public sealed class OnnxTensorType : OnnxMessage
{
    /// <summary>Field 1 <c>elem_type</c>.</summary>
    public OnnxDataType ElemType { get; set; }

    /// <summary>Field 2 <c>shape</c>; null means unknown rank, an empty shape means a scalar.</summary>
    public OnnxShape? Shape { get; set; }
}

/// <summary>ONNX <c>TensorShapeProto</c>.</summary>
public sealed class OnnxShape : OnnxMessage
{
    /// <summary>Field 1 <c>dim</c>.</summary>
    public List<OnnxDimension> Dims { get; } = [];
}

/// <summary>ONNX <c>TensorShapeProto.Dimension</c>: a fixed size, a symbolic name, or unknown (both null).</summary>
public sealed class OnnxDimension : OnnxMessage
{
    /// <summary>Field 1 <c>dim_value</c>, or null when not set.</summary>
    public long? Value { get; set; }

    /// <summary>Field 2 <c>dim_param</c> (a symbolic size such as <c>"N"</c>), or null when not set.</summary>
    public string? Param { get; set; }

    /// <summary>Field 3 <c>denotation</c>.</summary>
    public string Denotation { get => DenotationOrNull ?? ""; set => DenotationOrNull = value; }

    /// <summary>Backing value of <see cref="Denotation"/>: null when the field is absent (an explicitly empty string is kept, and written back).</summary>
    internal string? DenotationOrNull;

    /// <inheritdoc/>
    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Param ?? "?";
}

/// <summary>ONNX <c>TypeProto.Sequence</c> or <c>TypeProto.Optional</c>: field 1 <c>elem_type</c>, the wrapped type.</summary>
public sealed class OnnxElementType : OnnxMessage
{
    /// <summary>Field 1 <c>elem_type</c>, or null when absent.</summary>
    public OnnxType? ElemType { get; set; }
}
