using System.Text;

namespace QuantSharp.Engine;

/// <summary>
/// A dense, row-major (C order), contiguous n-dimensional array. The untyped base lets graphs and file
/// formats hold tensors of any <see cref="DataType"/>; <see cref="Tensor{T}"/> holds the data.
/// </summary>
public abstract class Tensor
{
    private readonly int[] _shape;

    /// <summary>Creates the base with a private copy of <paramref name="shape"/>.</summary>
    protected Tensor(ReadOnlySpan<int> shape)
    {
        _shape = shape.ToArray();
        Length = Shapes.Size(_shape);
    }

    /// <summary>The dimensions (a copy: tensors are never reshaped in place).</summary>
    public int[] Shape => (int[])_shape.Clone();

    /// <summary>The dimensions without copying.</summary>
    public ReadOnlySpan<int> Dims => _shape;

    /// <summary>Number of dimensions (0 for a scalar).</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>Element type.</summary>
    public abstract DataType DataType { get; }

    /// <summary>Size of dimension <paramref name="axis"/> (negative counts from the end).</summary>
    public int Dim(int axis) => _shape[Check.Axis("Tensor.Dim", "axis", axis, Rank)];

    /// <summary>The elements as an untyped array (for format writers).</summary>
    public abstract Array RawData { get; }

    /// <summary>A copy with its own data array (and, for typed tensors, the declared element type, e.g. Int4 or FP8).</summary>
    internal virtual Tensor DeepCopy() => (Tensor)Activator.CreateInstance(GetType(), (Array)RawData.Clone(), Shape)!;

    /// <summary>Zero-filled float tensor.</summary>
    public static Tensor<float> Zeros(params int[] shape) => new(shape);

    /// <summary>Float tensor filled with <paramref name="value"/>.</summary>
    public static Tensor<float> Full(float value, params int[] shape)
    {
        var t = new Tensor<float>(shape);
        Array.Fill(t.Data, value);
        return t;
    }

    /// <summary>Float tensor of ones.</summary>
    public static Tensor<float> Ones(params int[] shape) => Full(1f, shape);

    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of <paramref name="shape"/>.</summary>
    public static Tensor<T> FromArray<T>(T[] data, params int[] shape) where T : unmanaged => new(data, shape);

    /// <summary>A rank-0 tensor holding <paramref name="value"/>.</summary>
    public static Tensor<T> Scalar<T>(T value) where T : unmanaged => new([value], []);

    /// <summary>Float tensor with elements drawn uniformly from [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static Tensor<float> RandomUniform(Random rng, float low, float high, params int[] shape)
    {
        var t = new Tensor<float>(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = low + (high - low) * rng.NextSingle();
        return t;
    }

    /// <summary>Float tensor with normally distributed elements (Box–Muller).</summary>
    public static Tensor<float> RandomNormal(Random rng, float mean, float std, params int[] shape)
    {
        var t = new Tensor<float>(shape);
        for (int i = 0; i < t.Length; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            t.Data[i] = mean + std * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return t;
    }
}

/// <summary>A dense row-major tensor of unmanaged elements <typeparamref name="T"/>.</summary>
/// <typeparam name="T">float, double, sbyte, byte, short, ushort, int, long or bool.</typeparam>
public sealed class Tensor<T> : Tensor where T : unmanaged
{
    /// <summary>Zero-filled tensor of <paramref name="shape"/>.</summary>
    public Tensor(params int[] shape) : this((ReadOnlySpan<int>)shape) { }

    /// <summary>Zero-filled tensor of <paramref name="shape"/>.</summary>
    public Tensor(ReadOnlySpan<int> shape) : base(shape)
    {
        Data = new T[Length];
    }

    /// <summary>Wraps <paramref name="data"/> (not copied); its length must equal the shape's element count.</summary>
    public Tensor(T[] data, params int[] shape) : base(shape)
    {
        if (data.Length != Length)
            throw new ShapeException($"Tensor: argument 'data' expected {Length} elements for shape {Shapes.Format(shape)}, got {data.Length}");
        Data = data;
    }

    /// <summary>
    /// A tensor whose elements are NOT initialized (arbitrary values): for kernel outputs that are fully written
    /// anyway, where zeroing a large buffer would cost a memory pass of its own.
    /// </summary>
    public static Tensor<T> Uninitialized(ReadOnlySpan<int> shape) =>
        new(GC.AllocateUninitializedArray<T>(Shapes.Size(shape)), shape.ToArray());

    /// <summary>The elements in row-major order.</summary>
    public T[] Data { get; }

    private DataType? _declaredType;

    /// <inheritdoc />
    /// <remarks>The CLR type's <see cref="DataType"/>, unless <see cref="AsElementType"/> declared a narrower one (Int4/UInt4).</remarks>
    public override DataType DataType => _declaredType ?? DataTypes.Of<T>();

    /// <summary>
    /// This tensor's data (shared, not copied) declared as <paramref name="type"/>, whose storage must be
    /// <typeparamref name="T"/>: <c>Tensor&lt;sbyte&gt;</c> as <see cref="DataType.Int4"/> (values −8..7) or
    /// <c>Tensor&lt;byte&gt;</c> as <see cref="DataType.UInt4"/> (0..15) or as <see cref="DataType.Float8E4M3FN"/> / <see cref="DataType.Float8E5M2"/> bit patterns.
    /// 4-bit values are checked against the range.
    /// </summary>
    public Tensor<T> AsElementType(DataType type)
    {
        if (DataTypes.Storage(type) != DataTypes.Of<T>())
            throw new ShapeException($"Tensor.AsElementType: argument 'type' expected a type stored as {DataTypes.Of<T>()}, got {type}");
        var (lo, hi) = type switch { DataType.Int4 => (-8, 7), DataType.UInt4 => (0, 15), _ => (int.MinValue, int.MaxValue) };
        if (type is DataType.Int4 or DataType.UInt4)
            for (int i = 0; i < Length; i++)
            {
                int v = Convert.ToInt32(Data[i], System.Globalization.CultureInfo.InvariantCulture);
                if (v < lo || v > hi) throw new ShapeException($"Tensor.AsElementType: element {i} expected in [{lo}, {hi}] for {type}, got {v}");
            }
        return new Tensor<T>(Data, Shape) { _declaredType = type == DataTypes.Of<T>() ? null : type };
    }

    /// <inheritdoc />
    public override Array RawData => Data;

    /// <summary>The elements as a span.</summary>
    public Span<T> AsSpan() => Data;

    /// <summary>Element at a full multi-index.</summary>
    public T this[params int[] index]
    {
        get => Data[Offset(index)];
        set => Data[Offset(index)] = value;
    }

    private int Offset(int[] index)
    {
        if (index.Length != Rank)
            throw new ShapeException($"Tensor indexer: argument 'index' expected {Rank} indices for shape {Shapes.Format(Dims)}, got {index.Length}");
        int off = 0;
        for (int i = 0; i < index.Length; i++)
        {
            int d = Dims[i];
            if ((uint)index[i] >= (uint)d)
                throw new ShapeException($"Tensor indexer: index {i} expected in [0, {d - 1}], got {index[i]}");
            off = off * d + index[i];
        }
        return off;
    }

    /// <summary>
    /// A tensor of a new shape sharing this data (no copy). One dimension may be -1 (inferred).
    /// </summary>
    public Tensor<T> Reshape(params int[] shape)
    {
        var s = (int[])shape.Clone();
        int infer = -1, known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (infer >= 0) throw new ShapeException($"Reshape: argument 'shape' expected at most one -1, got {Shapes.Format(shape)}");
                infer = i;
            }
            else if (s[i] < 0) throw new ShapeException($"Reshape: argument 'shape' expected dimensions >= -1, got {Shapes.Format(shape)}");
            else known *= s[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || Length % known != 0)
                throw new ShapeException($"Reshape: cannot infer -1 in {Shapes.Format(shape)} for {Length} elements of shape {Shapes.Format(Dims)}");
            s[infer] = Length / known;
        }
        if (Shapes.Size(s) != Length)
            throw new ShapeException($"Reshape: argument 'shape' expected {Length} elements (from {Shapes.Format(Dims)}), got {Shapes.Format(s)}");
        return new Tensor<T>(Data, s) { _declaredType = _declaredType };
    }

    /// <summary>A deep copy (keeping a declared element type).</summary>
    public Tensor<T> Clone() => new((T[])Data.Clone(), Shape) { _declaredType = _declaredType };

    internal override Tensor DeepCopy() => Clone();

    /// <summary>Shape and up to 16 leading elements, for debugging.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor<").Append(typeof(T).Name).Append('>').Append(Shapes.Format(Dims)).Append(" [");
        int n = Math.Min(Length, 16);
        for (int i = 0; i < n; i++) { if (i > 0) sb.Append(", "); sb.Append(Data[i]); }
        if (Length > n) sb.Append(", …");
        return sb.Append(']').ToString();
    }
}
