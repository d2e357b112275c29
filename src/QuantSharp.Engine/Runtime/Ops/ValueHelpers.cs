namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>Element-type-agnostic helpers shared by the control-flow and sequence ops.</summary>
internal static class ValueHelpers
{
    /// <summary>A zero-filled tensor of <paramref name="type"/> and <paramref name="shape"/>.</summary>
    public static Tensor Zeros(DataType type, int[] shape) => type switch
    {
        DataType.Float32 => new Tensor<float>(shape),
        DataType.Float64 => new Tensor<double>(shape),
        DataType.Int8 => new Tensor<sbyte>(shape),
        DataType.UInt8 => new Tensor<byte>(shape),
        DataType.Int16 => new Tensor<short>(shape),
        DataType.UInt16 => new Tensor<ushort>(shape),
        DataType.Int32 => new Tensor<int>(shape),
        DataType.Int64 => new Tensor<long>(shape),
        DataType.Bool => new Tensor<bool>(shape),
        DataType.Int4 => new Tensor<sbyte>(shape).AsElementType(DataType.Int4),
        DataType.UInt4 => new Tensor<byte>(shape).AsElementType(DataType.UInt4),
        _ => throw new GraphException($"element type {type} is not supported"),
    };

    /// <summary>A copy of <paramref name="t"/> reshaped to <paramref name="shape"/> (same element count) sharing nothing.</summary>
    public static Tensor CopyAs(Tensor t, int[] shape)
    {
        var r = Zeros(t.DataType, shape);
        Array.Copy(t.RawData, r.RawData, t.Length);
        return r;
    }

    /// <summary>(outer, size, inner) of <paramref name="dims"/> around <paramref name="axis"/>.</summary>
    public static (int Outer, int Size, int Inner) Split(ReadOnlySpan<int> dims, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= dims[d];
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        return (outer, dims[axis], inner);
    }

    /// <summary>Index <paramref name="index"/> of <paramref name="x"/> along <paramref name="axis"/>, that axis removed.</summary>
    public static Tensor Take(Tensor x, int axis, int index)
    {
        var (outer, size, inner) = Split(x.Dims, axis);
        var shape = x.Shape.Where((_, d) => d != axis).ToArray();
        var r = Zeros(x.DataType, shape);
        var src = x.RawData;
        var dst = r.RawData;
        for (int o = 0; o < outer; o++) Array.Copy(src, (o * size + index) * inner, dst, o * inner, inner);
        return r;
    }

    /// <summary>
    /// Stacks <paramref name="items"/> (equal shapes and types) along a new axis <paramref name="axis"/>; item i goes to
    /// position i. <paramref name="what"/> names the caller in the error for unequal shapes.
    /// </summary>
    public static Tensor Stack(IReadOnlyList<Tensor> items, int axis, string what)
    {
        var first = items[0];
        for (int i = 1; i < items.Count; i++)
            if (!items[i].Dims.SequenceEqual(first.Dims) || items[i].DataType != first.DataType)
                throw new GraphException($"{what}: item {i} has {items[i].DataType}{Shapes.Format(items[i].Dims)}, expected {first.DataType}{Shapes.Format(first.Dims)} like item 0");
        var shape = first.Shape.ToList();
        shape.Insert(axis, items.Count);
        var r = Zeros(first.DataType, shape.ToArray());
        var (outer, size, inner) = Split(r.Dims, axis);
        var dst = r.RawData;
        for (int i = 0; i < items.Count; i++)
        {
            var src = items[i].RawData;
            for (int o = 0; o < outer; o++) Array.Copy(src, o * inner, dst, (o * size + i) * inner, inner);
        }
        return r;
    }

    /// <summary>
    /// Takes every tensor reachable from <paramref name="value"/> (itself, or the tensors inside a sequence or optional) out
    /// of the run's buffer pool, so that releasing the slot it came from never recycles memory a sequence still holds.
    /// </summary>
    public static void Detach(ITensorAllocator allocator, Tensor? value)
    {
        if (allocator is not RunAllocator pool || value is null) return;
        switch (value)
        {
            case TensorSequence s: foreach (var t in s.Items) pool.Disown(t); break;
            case OptionalValue { Value: { } inner }: Detach(allocator, inner); break;
            case NonTensorValue: break;
            default: pool.Disown(value); break;
        }
    }

    /// <summary>A one-element tensor's value as a long (int32 or int64); throws naming <paramref name="what"/> otherwise.</summary>
    public static long ScalarLong(Tensor t, string what) => t switch
    {
        Tensor<long> { Length: 1 } l => l.Data[0],
        Tensor<int> { Length: 1 } n => n.Data[0],
        _ => throw new GraphException($"{what} expected a one-element int64 or int32 tensor, got {t.DataType}{Shapes.Format(t.Dims)}"),
    };

    /// <summary>A one-element bool tensor's value; throws naming <paramref name="what"/> otherwise.</summary>
    public static bool ScalarBool(Tensor t, string what) => t is Tensor<bool> { Length: 1 } b ? b.Data[0]
        : throw new GraphException($"{what} expected a one-element bool tensor, got {t.DataType}{Shapes.Format(t.Dims)}");
}
