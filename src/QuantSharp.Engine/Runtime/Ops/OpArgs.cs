namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>The inputs of one node execution, with typed accessors whose errors name the node and the input.</summary>
public readonly struct OpArgs
{
    private readonly Tensor?[] _values;

    /// <summary>Wraps the inputs of <paramref name="node"/>.</summary>
    public OpArgs(Node node, Tensor?[] values)
    {
        Node = node;
        _values = values;
        _needed = null;
        _allocator = null;
    }

    /// <summary>
    /// Wraps the inputs of <paramref name="node"/> for a gradient rule told which input gradients are wanted and where
    /// gradient memory may come from.
    /// </summary>
    public OpArgs(Node node, Tensor?[] values, bool[]? needed, ITensorAllocator? allocator = null)
    {
        Node = node;
        _values = values;
        _needed = needed;
        _allocator = allocator;
    }

    private readonly bool[]? _needed;
    private readonly ITensorAllocator? _allocator;

    /// <summary>In a gradient rule: where gradient tensors may take their memory from (the heap unless the session pools it).</summary>
    public ITensorAllocator Allocator => _allocator ?? HeapAllocator.Instance;

    /// <summary>
    /// In a gradient rule: false when no one needs d(loss)/d(input <paramref name="i"/>), so the rule may skip it
    /// (return null there). True when unknown (the caller wants every gradient).
    /// </summary>
    public bool Wants(int i) => _needed is null || (i < _needed.Length && _needed[i]);

    /// <summary>The node being executed.</summary>
    public Node Node { get; }

    /// <summary>Number of inputs given (including omitted optional ones in the middle).</summary>
    public int Count => _values.Length;

    /// <summary>True when input <paramref name="i"/> is present.</summary>
    public bool Has(int i) => i < _values.Length && _values[i] is not null;

    /// <summary>Input <paramref name="i"/> of any element type; throws naming the node when missing.</summary>
    public Tensor Any(int i) => Has(i) ? _values[i]! : throw new GraphException($"node {Node.Label}: required input {i} is missing");

    /// <summary>Input <paramref name="i"/> or null.</summary>
    public Tensor? Optional(int i) => Has(i) ? _values[i] : null;

    /// <summary>Input <paramref name="i"/> as float; throws naming node, input and types otherwise.</summary>
    public Tensor<float> Float(int i) => As<float>(i);

    /// <summary>Optional float input.</summary>
    public Tensor<float>? OptionalFloat(int i) => Has(i) ? As<float>(i) : null;

    /// <summary>Input <paramref name="i"/> as <see cref="Tensor{T}"/>.</summary>
    public Tensor<T> As<T>(int i) where T : unmanaged
    {
        var t = Any(i);
        return t as Tensor<T> ?? throw new GraphException($"node {Node.Label}: input {i} expected element type {DataTypes.Of<T>()}, got {t.DataType}");
    }

    /// <summary>An integer input (int32 or int64, e.g. shapes, axes, pads) as longs.</summary>
    public long[] Longs(int i) => Any(i) switch
    {
        Tensor<long> l => l.Data.ToArray(),
        Tensor<int> n => n.Data.Select(v => (long)v).ToArray(),
        var t => throw new GraphException($"node {Node.Label}: input {i} expected an int64 or int32 tensor, got {t.DataType}"),
    };

    /// <summary>An optional integer input as longs, or null when omitted.</summary>
    public long[]? OptionalLongs(int i) => Has(i) ? Longs(i) : null;

    /// <summary>A scalar (or one-element) input converted to float, or <paramref name="fallback"/> when omitted.</summary>
    public float ScalarOr(int i, float fallback)
    {
        if (!Has(i)) return fallback;
        var t = Any(i);
        if (t.Length != 1) throw new GraphException($"node {Node.Label}: input {i} expected a scalar, got shape {Shapes.Format(t.Dims)}");
        return Convert.ToSingle(t.RawData.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
    }
}
