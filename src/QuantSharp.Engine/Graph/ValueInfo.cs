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

/// <summary>A named value's declared element type and shape (graph inputs, outputs, annotations).</summary>
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

    /// <summary>A copy.</summary>
    public ValueInfo Clone() => new(Name, ElementType, Shape) { DocString = DocString };

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {ElementType}[{(Shape is null ? "?" : string.Join(",", Shape))}]";
}
