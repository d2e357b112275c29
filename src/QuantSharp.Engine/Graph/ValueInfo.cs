namespace QuantSharp.Engine;

/// <summary>One dimension of a declared shape: a fixed size or a symbolic name (e.g. "batch").</summary>
public readonly record struct Dim(int? Value, string? Symbol)
{
    /// <summary>A fixed dimension.</summary>
    public static Dim Fixed(int value) => new(value, null);

    /// <summary>A symbolic dimension (unknown until run time).</summary>
    public static Dim Symbolic(string symbol) => new(null, symbol);

    /// <summary>An unknown dimension with no name.</summary>
    public static Dim Unknown => new(null, null);

    /// <summary>True when the size is fixed.</summary>
    public bool IsFixed => Value.HasValue;

    /// <inheritdoc />
    public override string ToString() => Value?.ToString() ?? Symbol ?? "?";
}

/// <summary>What kind of value a <see cref="ValueInfo"/> declares (ONNX TypeProto's value cases that the engine runs).</summary>
public enum ValueKind
{
    /// <summary>A dense tensor (<c>tensor(T)</c>); the default.</summary>
    Tensor,
    /// <summary>A sequence of tensors (<c>seq(tensor(T))</c>, a <see cref="TensorSequence"/>); element type and shape describe its tensors.</summary>
    Sequence,
    /// <summary>An optional tensor (<c>optional(tensor(T))</c>, an <see cref="OptionalValue"/>).</summary>
    Optional,
    /// <summary>An optional sequence (<c>optional(seq(tensor(T)))</c>, an <see cref="OptionalValue"/> holding a <see cref="TensorSequence"/>).</summary>
    OptionalSequence,
    /// <summary>
    /// No type declared (ONNX allows that for subgraph inputs, outputs and value infos, whose types are inferred):
    /// element type and shape mean nothing and feeds are not checked against them.
    /// </summary>
    Untyped,
}

/// <summary>A named value's declared kind, element type and shape (graph inputs, outputs, annotations).</summary>
public sealed class ValueInfo
{
    /// <summary>Creates a value description; a null shape means the rank is unknown.</summary>
    public ValueInfo(string name, DataType elementType, IEnumerable<Dim>? shape)
    {
        Name = name;
        ElementType = elementType;
        Shape = shape?.ToArray();
    }

    /// <summary>Convenience constructor for fixed shapes.</summary>
    public ValueInfo(string name, DataType elementType, params int[] shape) : this(name, elementType, shape.Select(Dim.Fixed)) { }

    /// <summary>The value's name.</summary>
    public string Name { get; set; }

    /// <summary>Element type.</summary>
    public DataType ElementType { get; set; }

    /// <summary>Dimensions, or null when the rank is unknown.</summary>
    public Dim[]? Shape { get; set; }

    /// <summary>Free-text documentation.</summary>
    public string DocString { get; set; } = "";

    /// <summary>
    /// Tensor (default), sequence, optional or undeclared. For sequences and optionals, <see cref="ElementType"/> and
    /// <see cref="Shape"/> describe the tensors inside.
    /// </summary>
    public ValueKind Kind { get; set; } = ValueKind.Tensor;

    /// <summary>A copy.</summary>
    public ValueInfo Clone() => new(Name, ElementType, Shape) { DocString = DocString, Kind = Kind };

    /// <inheritdoc />
    public override string ToString()
    {
        string tensor = $"{ElementType}[{(Shape is null ? "?" : string.Join(",", Shape))}]";
        return Kind switch
        {
            ValueKind.Sequence => $"{Name}: seq({tensor})",
            ValueKind.Optional => $"{Name}: optional({tensor})",
            ValueKind.OptionalSequence => $"{Name}: optional(seq({tensor}))",
            ValueKind.Untyped => $"{Name}: (type not declared)",
            _ => $"{Name}: {tensor}",
        };
    }
}
