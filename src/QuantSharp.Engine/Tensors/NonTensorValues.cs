namespace QuantSharp.Engine;

/// <summary>
/// An ONNX value that is not a dense tensor: a sequence (<see cref="TensorSequence"/>) or an optional
/// (<see cref="OptionalValue"/>).
/// </summary>
/// <remarks>
/// Design: a <see cref="Runtime.Session"/> keeps every value in a <c>Tensor?</c> slot and every kernel takes <c>Tensor?[]</c>, so
/// non-tensor values derive from <see cref="Tensor"/> instead of widening those signatures. Such a value is a shape-[0]
/// tensor with no elements of its own (<see cref="Tensor.Length"/> 0, an empty <see cref="Tensor.RawData"/>), so code that
/// walks elements does nothing with it, and a buffer pool never recycles it; its content is reached only through the
/// subclass. <see cref="Tensor.DataType"/> is the element type of the tensors it holds (declared, so an empty sequence
/// still has one). Values are immutable: sequence ops return new values that share the element tensors, which are
/// themselves never modified in place. Kernels that put a tensor into such a value must take it out of any buffer pool
/// of the run (see the sequence ops), because the run's lifetime tracking sees only the outer value.
/// </remarks>
public abstract class NonTensorValue : Tensor
{
    private readonly DataType _elementType;
    private readonly Array _empty;

    /// <summary>Creates the element-less base for element type <paramref name="elementType"/>.</summary>
    private protected NonTensorValue(DataType elementType) : base([0])
    {
        _elementType = elementType;
        _empty = new byte[0]; // its own array: pools key arrays by reference and must never see a shared one
    }

    /// <inheritdoc />
    /// <remarks>The element type of the tensors this value holds (or would hold).</remarks>
    public override DataType DataType => _elementType;

    /// <inheritdoc />
    /// <remarks>Always empty: the value's tensors are reached through the subclass, never through this array.</remarks>
    public override Array RawData => _empty;

    /// <summary>The value's kind as a declared type would name it.</summary>
    public abstract ValueKind Kind { get; }
}

/// <summary>
/// ONNX <c>seq(tensor(T))</c>: an ordered list of tensors, all of element type <see cref="Tensor.DataType"/> (shapes may
/// differ). Immutable; <see cref="Insert"/> and <see cref="Erase"/> return new sequences sharing the element tensors.
/// </summary>
public sealed class TensorSequence : NonTensorValue
{
    private readonly Tensor[] _items;

    /// <summary>A sequence of <paramref name="items"/> (the list is copied, the tensors shared) of element type <paramref name="elementType"/>.</summary>
    /// <exception cref="GraphException">An item is null, itself a non-tensor value, or of another element type.</exception>
    public TensorSequence(DataType elementType, IEnumerable<Tensor> items) : base(elementType)
    {
        _items = items.ToArray();
        for (int i = 0; i < _items.Length; i++)
        {
            if (_items[i] is null or NonTensorValue)
                throw new GraphException($"TensorSequence: item {i} expected a tensor, got {(_items[i] is null ? "null" : "a " + _items[i].GetType().Name)}");
            if (_items[i].DataType != elementType)
                throw new GraphException($"TensorSequence: item {i} expected element type {elementType}, got {_items[i].DataType}");
        }
    }

    /// <summary>An empty sequence of element type <paramref name="elementType"/>.</summary>
    public static TensorSequence Empty(DataType elementType) => new(elementType, []);

    /// <inheritdoc />
    public override ValueKind Kind => ValueKind.Sequence;

    /// <summary>Number of tensors.</summary>
    public int Count => _items.Length;

    /// <summary>The tensors in order.</summary>
    public IReadOnlyList<Tensor> Items => _items;

    /// <summary>Tensor <paramref name="index"/> (0-based, non-negative).</summary>
    public Tensor this[int index] => _items[index];

    /// <summary>A new sequence with <paramref name="item"/> inserted before position <paramref name="index"/> (0..Count).</summary>
    public TensorSequence Insert(int index, Tensor item)
    {
        var list = new List<Tensor>(_items);
        list.Insert(index, item);
        return new TensorSequence(DataType, list);
    }

    /// <summary>A new sequence without the tensor at <paramref name="index"/> (0..Count−1).</summary>
    public TensorSequence Erase(int index)
    {
        var list = new List<Tensor>(_items);
        list.RemoveAt(index);
        return new TensorSequence(DataType, list);
    }

    /// <inheritdoc />
    public override string ToString() => $"TensorSequence<{DataType}>[{Count}]";
}

/// <summary>
/// ONNX <c>optional(T)</c> where T is a tensor or a sequence: either holds a <see cref="Value"/> or is empty ("None").
/// <see cref="Tensor.DataType"/> is the element type of the (possible) tensor; <see cref="HoldsSequence"/> tells whether
/// the optional's declared type is a sequence.
/// </summary>
public sealed class OptionalValue : NonTensorValue
{
    /// <summary>An optional holding <paramref name="value"/>, a tensor or a <see cref="TensorSequence"/> (not another optional).</summary>
    public OptionalValue(Tensor value) : base(value.DataType)
    {
        if (value is OptionalValue) throw new GraphException("OptionalValue: an optional cannot hold another optional");
        Value = value;
        HoldsSequence = value is TensorSequence;
    }

    private OptionalValue(DataType elementType, bool sequence) : base(elementType) => HoldsSequence = sequence;

    /// <summary>An empty optional of type <c>optional(tensor(elementType))</c>, or <c>optional(seq(tensor(elementType)))</c> when <paramref name="sequence"/>.</summary>
    public static OptionalValue None(DataType elementType, bool sequence = false) => new(elementType, sequence);

    /// <summary>The held value, or null when empty.</summary>
    public Tensor? Value { get; }

    /// <summary>True when a value is held.</summary>
    public bool HasValue => Value is not null;

    /// <summary>True when the optional's type wraps a sequence rather than a tensor.</summary>
    public bool HoldsSequence { get; }

    /// <inheritdoc />
    public override ValueKind Kind => HoldsSequence ? ValueKind.OptionalSequence : ValueKind.Optional;

    /// <inheritdoc />
    public override string ToString() => HasValue ? $"Optional({Value})" : $"Optional<{DataType}>(none)";
}
