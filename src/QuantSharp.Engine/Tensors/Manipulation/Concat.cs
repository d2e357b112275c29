namespace QuantSharp.Engine;

public static partial class TensorOps
{
    /// <summary>
    /// ONNX <c>Concat</c>: joins <paramref name="inputs"/> along <paramref name="axis"/>; all inputs have the
    /// same rank and the same dimensions except along the axis (which may be 0). Negative axes count from the end.
    /// </summary>
    /// <remarks>
    /// Each input is a block of <c>outer = Π d[:axis]</c> runs of <c>d_axis·Π d[axis+1:]</c> contiguous elements,
    /// copied with one run copy per outer index.
    /// </remarks>
    public static Tensor<T> Concat<T>(IReadOnlyList<Tensor<T>> inputs, int axis) where T : unmanaged
    {
        const string op = "Concat";
        Check.That(inputs.Count > 0, op, "inputs", "at least one tensor", "none");
        var first = inputs[0].Dims;
        int rank = first.Length;
        int ax = NormalizeAxis(op, "axis", axis, rank);
        var outShape = first.ToArray();
        long total = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            var d = inputs[i].Dims;
            bool ok = d.Length == rank;
            for (int k = 0; ok && k < rank; k++) ok = k == ax || d[k] == first[k];
            Check.That(ok, op, $"inputs[{i}]", $"shape {ShapeWithWildcard(first, ax)} (like inputs[0] except on axis {ax})", Shapes.Format(d));
            total += d[ax];
        }
        Check.That(total <= int.MaxValue, op, "inputs", $"at most {int.MaxValue} along axis {ax}", total.ToString());
        outShape[ax] = (int)total;
        var y = new Tensor<T>(outShape);
        if (y.Length == 0) return y;
        int outer = Shapes.Size(first[..ax]);
        long inner = y.Length / ((long)outer * total);
        long outRow = total * inner;
        long at = 0;
        foreach (var t in inputs)
        {
            int run = (int)(t.Dims[ax] * inner);
            if (run > 0)
                Strided.Copy(t.Data, 0, [run, 1], y.Data, at, [outRow, 1], [outer, run]);
            at += run;
        }
        return y;
    }

    /// <summary>
    /// ONNX <c>Split</c> with explicit <paramref name="sizes"/> along <paramref name="axis"/> (they must sum to the
    /// axis's dimension). Also the gradient of <see cref="Concat{T}"/> (split the output gradient by the input sizes).
    /// </summary>
    public static Tensor<T>[] Split<T>(Tensor<T> x, int axis, ReadOnlySpan<long> sizes) where T : unmanaged
    {
        const string op = "Split";
        int ax = NormalizeAxis(op, "axis", axis, x.Rank);
        long sum = 0;
        foreach (long s in sizes)
        {
            Check.That(s >= 0, op, "split", "non-negative sizes", Format(sizes));
            sum += s;
        }
        Check.That(sum == x.Dims[ax], op, "split", $"sizes summing to {x.Dims[ax]} (dimension {ax} of {Shapes.Format(x.Dims)})",
            $"{Format(sizes)} (sum {sum})");
        int outer = Shapes.Size(x.Dims[..ax]);
        long inner = Shapes.Size(x.Dims[(ax + 1)..]);
        long inRow = x.Dims[ax] * inner;
        var outs = new Tensor<T>[sizes.Length];
        long at = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            var shape = x.Shape;
            shape[ax] = (int)sizes[i];
            outs[i] = new Tensor<T>(shape);
            int run = (int)(sizes[i] * inner);
            if (run > 0 && outer > 0)
                Strided.Copy(x.Data, at, [inRow, 1], outs[i].Data, 0, [run, 1], [outer, run]);
            at += run;
        }
        return outs;
    }

    /// <summary>
    /// ONNX <c>Split</c> into <paramref name="parts"/> outputs (opset 18 <c>num_outputs</c>): each part has
    /// ⌈d/parts⌉ entries along the axis and the last one the remainder (smaller when d is not divisible).
    /// </summary>
    public static Tensor<T>[] Split<T>(Tensor<T> x, int axis, int parts) where T : unmanaged
    {
        int ax = NormalizeAxis("Split", "axis", axis, x.Rank);
        Check.That(parts >= 1, "Split", "num_outputs", ">= 1", parts.ToString());
        return Split(x, ax, EqualSplitSizes(x.Dims[ax], parts));
    }

    /// <summary>The sizes ONNX <c>Split</c> uses for <paramref name="parts"/> outputs over a dimension of <paramref name="dim"/>.</summary>
    public static long[] EqualSplitSizes(int dim, int parts)
    {
        Check.That(parts >= 1, "Split", "num_outputs", ">= 1", parts.ToString());
        long chunk = (dim + (long)parts - 1) / parts;
        Check.That(chunk * (parts - 1) < dim || dim == 0 && parts == 1, "Split", "num_outputs",
            $"at most {dim} outputs with ceil-sized chunks for dimension {dim}", parts.ToString());
        var sizes = new long[parts];
        for (int i = 0; i < parts; i++) sizes[i] = Math.Min(chunk, dim - chunk * i);
        return sizes;
    }

    private static string ShapeWithWildcard(ReadOnlySpan<int> shape, int axis)
    {
        var parts = new string[shape.Length];
        for (int i = 0; i < shape.Length; i++) parts[i] = i == axis ? "*" : shape[i].ToString();
        return "[" + string.Join(",", parts) + "]";
    }
}
