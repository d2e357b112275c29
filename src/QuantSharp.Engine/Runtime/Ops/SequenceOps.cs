using static QuantSharp.Engine.Runtime.InputRole;
namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// ONNX sequence and optional ops over <see cref="TensorSequence"/> and <see cref="OptionalValue"/>: SequenceEmpty,
/// SequenceConstruct, SequenceAt, SequenceInsert, SequenceErase, SequenceLength, SplitToSequence, ConcatFromSequence
/// (opset 11), Optional, OptionalHasElement, OptionalGetElement (opset 15; 18 accepts plain tensors and sequences).
/// Sequence values share their tensors instead of copying them; a tensor put into one is taken out of the run's buffer
/// pool (<see cref="ValueHelpers.Detach"/>). No gradients.
/// </summary>
internal static class SequenceOps
{
    public static void Register(OpRegistry r)
    {
        SequenceMapKernel.Register(r);
        Table.AddAllocating(r, "SequenceEmpty", 11, n =>
        {
            var type = LayoutOps.OnnxElementType((int)n.GetInt("dtype", 1), n);
            return ((a, _, _) => [TensorSequence.Empty(type)], null);
        });
        Table.AddAllocating(r, "SequenceConstruct", 11, n => ((a, _, alloc) =>
        {
            if (a.Count == 0) throw new GraphException($"node {n.Label}: expected at least one input");
            var items = new Tensor[a.Count];
            for (int i = 0; i < items.Length; i++)
            {
                items[i] = PlainTensor(a, i, "input");
                if (items[i].DataType != items[0].DataType)
                    throw new GraphException($"node {n.Label}: input {i} has element type {items[i].DataType}, expected {items[0].DataType} like input 0");
                ValueHelpers.Detach(alloc, items[i]);
            }
            return [new TensorSequence(items[0].DataType, items)];
        }, null));
        Table.AddAllocating(r, "SequenceAt", 11, n => ((a, _, _) =>
        {
            var s = Sequence(a, 0);
            return [s[Position(a, 1, s.Count, s.Count - 1, "position")]];
        }, null));
        Table.AddAllocating(r, "SequenceInsert", 11, n => ((a, _, alloc) =>
        {
            var s = Sequence(a, 0);
            var t = PlainTensor(a, 1, "tensor");
            if (t.DataType != s.DataType)
                throw new GraphException($"node {n.Label}: input 1 ('tensor') has element type {t.DataType}, expected the sequence's {s.DataType}");
            int at = a.Has(2) ? Position(a, 2, s.Count, s.Count, "position") : s.Count;
            ValueHelpers.Detach(alloc, t);
            return [s.Insert(at, t)];
        }, null));
        Table.AddAllocating(r, "SequenceErase", 11, n => ((a, _, _) =>
        {
            var s = Sequence(a, 0);
            if (s.Count == 0) throw new GraphException($"node {n.Label}: cannot erase from an empty sequence");
            return [s.Erase(a.Has(1) ? Position(a, 1, s.Count, s.Count - 1, "position") : s.Count - 1)];
        }, null));
        Table.AddAllocating(r, "SequenceLength", 11, n => ((a, _, _) => [Tensor.Scalar((long)Sequence(a, 0).Count)], null));
        Table.AddAllocating(r, "SplitToSequence", 11, n =>
        {
            long axis = n.GetInt("axis", 0), keepdims = n.GetInt("keepdims", 1);
            return ((a, _, _) => [SplitToSequence(a, axis, keepdims != 0)], null);
        });
        Table.AddAllocating(r, "ConcatFromSequence", 11, n =>
        {
            if (!n.Attributes.ContainsKey("axis")) throw new GraphException($"node {n.Label}: required attribute 'axis' is missing");
            long axis = n.GetInt("axis", 0), newAxis = n.GetInt("new_axis", 0);
            return ((a, _, _) => [ConcatFromSequence(a, axis, newAxis != 0)], null);
        });

        Table.AddAllocating(r, "Optional", 15, n => ((a, _, alloc) =>
        {
            if (a.Optional(0) is not { } v)
            {
                var type = n.Attributes.TryGetValue("type", out var t) && t.Kind == AttributeKind.Type ? t.AsType()
                    : throw new GraphException($"node {n.Label}: without an input, attribute 'type' (a tensor or sequence type) is required");
                if (type.Kind is not (ValueKind.Tensor or ValueKind.Sequence))
                    throw new GraphException($"node {n.Label}: attribute 'type' expected a tensor or sequence type, got {type}");
                return [OptionalValue.None(type.ElementType, type.Kind == ValueKind.Sequence)];
            }
            if (v is OptionalValue) throw new GraphException($"node {n.Label}: input 0 expected a tensor or a sequence, got an optional");
            ValueHelpers.Detach(alloc, v);
            return [new OptionalValue(v)];
        }, null));
        Table.AddAllocating(r, "OptionalHasElement", 15, n => ((a, _, _) =>
            [Tensor.Scalar(a.Optional(0) switch { null => false, OptionalValue o => o.HasValue, _ => true })], null));
        Table.AddAllocating(r, "OptionalGetElement", 15, n => ((a, _, _) => a.Any(0) switch
        {
            OptionalValue { Value: { } v } => [v],
            OptionalValue => throw new GraphException($"node {n.Label}: input 0 is an empty optional; OptionalGetElement needs a value"),
            var plain => [plain],
        }, null));
        Describe(r);
    }

    /// <summary>Schema facts: which ops build sequences/optionals, and the int64/bool outputs of the queries.</summary>
    private static void Describe(OpRegistry r)
    {
        foreach (var op in new[] { "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SplitToSequence", "Optional" })
            r.Describe(op).WithTraits(OpTraits.NonTensorOutputs);
        foreach (var op in new[] { "SequenceAt", "SequenceErase", "SplitToSequence" }) r.Describe(op).WithInputs(Data, Setting);
        r.Describe("SequenceInsert").WithInputs(Data, Data, Setting);
        r.Describe("SequenceMap").WithTraits(OpTraits.NonTensorOutputs);
        r.Describe("SequenceLength").WithOutputType(TypeRules.Fixed(DataType.Int64));
        r.Describe("OptionalHasElement").WithOutputType(TypeRules.Fixed(DataType.Bool));
        r.Describe("SequenceEmpty").WithOutputType(TypeRules.FromAttribute("dtype"));
    }

    private static TensorSequence Sequence(OpArgs a, int i) => a.Any(i) as TensorSequence
        ?? throw new GraphException($"node {a.Node.Label}: input {i} expected a sequence, got {Describe(a.Any(i))}");

    private static Tensor PlainTensor(OpArgs a, int i, string what)
    {
        var t = a.Any(i);
        return t is NonTensorValue ? throw new GraphException($"node {a.Node.Label}: input {i} ('{what}') expected a tensor, got {Describe(t)}") : t;
    }

    internal static string Describe(Tensor t) => t switch
    {
        TensorSequence s => $"a sequence of {s.Count} {s.DataType} tensors",
        OptionalValue o => $"an optional {(o.HasValue ? "holding a value" : "without value")}",
        _ => $"a {t.DataType}{Shapes.Format(t.Dims)} tensor",
    };

    /// <summary>
    /// Scalar position input <paramref name="i"/> normalized to 0..<paramref name="upper"/> (negative counts from the
    /// end: −count means 0); anything outside [−count, <paramref name="upper"/>] is an error naming the node.
    /// </summary>
    private static int Position(OpArgs a, int i, int count, int upper, string what)
    {
        long p = ValueHelpers.ScalarLong(a.Any(i), $"node {a.Node.Label}: input {i} ('{what}')");
        if (p < -count || p > upper)
            throw new GraphException($"node {a.Node.Label}: input {i} ('{what}') expected in [{-count}, {upper}] for a sequence of {count}, got {p}");
        return (int)(p < 0 ? p + count : p);
    }

    /// <summary>
    /// SplitToSequence: without 'split', one entry per index along the axis (squeezed unless keepdims); with a scalar
    /// 'split', chunks of that size (the last may be smaller); with a 1-D 'split', chunks of those sizes (which must sum
    /// to the axis length).
    /// </summary>
    private static TensorSequence SplitToSequence(OpArgs a, long axisAttr, bool keepdims)
    {
        var x = PlainTensor(a, 0, "input");
        int rank = x.Rank;
        if (axisAttr < -rank || axisAttr >= rank)
            throw new GraphException($"node {a.Node.Label}: attribute 'axis' expected in [{-rank}, {rank - 1}], got {axisAttr}");
        int axis = (int)(axisAttr < 0 ? axisAttr + rank : axisAttr), len = x.Dims[axis];
        var items = new List<Tensor>();
        if (!a.Has(1))
        {
            for (int i = 0; i < len; i++)
            {
                var slice = Range(x, axis, i, 1);
                items.Add(keepdims ? slice : ValueHelpers.CopyAs(slice, x.Shape.Where((_, d) => d != axis).ToArray()));
            }
            return new TensorSequence(x.DataType, items);
        }
        var split = a.Any(1);
        var sizes = new List<long>();
        if (split.Rank == 0)
        {
            long size = ValueHelpers.ScalarLong(split, $"node {a.Node.Label}: input 1 ('split')");
            if (size <= 0) throw new GraphException($"node {a.Node.Label}: input 1 ('split') expected a positive size, got {size}");
            for (long at = 0; at < len; at += size) sizes.Add(Math.Min(size, len - at));
        }
        else
        {
            sizes.AddRange(a.Longs(1));
            if (sizes.Any(s => s < 0) || sizes.Sum() != len)
                throw new GraphException($"node {a.Node.Label}: input 1 ('split') expected non-negative sizes summing to {len} (axis {axis} of {Shapes.Format(x.Dims)}), got [{string.Join(",", sizes)}]");
        }
        int start = 0;
        foreach (var s in sizes) { items.Add(Range(x, axis, start, (int)s)); start += (int)s; }
        return new TensorSequence(x.DataType, items);
    }

    /// <summary>Entries [start, start+count) of <paramref name="x"/> along <paramref name="axis"/> (a copy).</summary>
    private static Tensor Range(Tensor x, int axis, int start, int count)
    {
        var (outer, size, inner) = ValueHelpers.Split(x.Dims, axis);
        var shape = x.Shape;
        shape[axis] = count;
        var r = ValueHelpers.Zeros(x.DataType, shape);
        for (int o = 0; o < outer; o++) Array.Copy(x.RawData, (o * size + start) * inner, r.RawData, o * count * inner, count * inner);
        return r;
    }

    /// <summary>
    /// ConcatFromSequence: concatenates along 'axis' (in [−r, r−1]), or with new_axis stacks along a new axis (in
    /// [−r−1, r]); all tensors must agree on every other dimension.
    /// </summary>
    private static Tensor ConcatFromSequence(OpArgs a, long axisAttr, bool newAxis)
    {
        var s = Sequence(a, 0);
        if (s.Count == 0) throw new GraphException($"node {a.Node.Label}: input 0 is an empty sequence; there is nothing to concatenate");
        var first = s[0];
        int rank = first.Rank + (newAxis ? 1 : 0);
        if (axisAttr < -rank || axisAttr >= rank)
            throw new GraphException($"node {a.Node.Label}: attribute 'axis' expected in [{-rank}, {rank - 1}], got {axisAttr}");
        int axis = (int)(axisAttr < 0 ? axisAttr + rank : axisAttr);
        if (newAxis) return ValueHelpers.Stack(s.Items, axis, $"node {a.Node.Label}: sequence");
        var shape = first.Shape;
        int total = 0;
        for (int i = 0; i < s.Count; i++)
        {
            var d = s[i].Dims;
            bool ok = d.Length == first.Rank;
            for (int k = 0; ok && k < d.Length; k++) ok = k == axis || d[k] == first.Dims[k];
            if (!ok) throw new GraphException($"node {a.Node.Label}: sequence item {i} has shape {Shapes.Format(d)}, which does not match item 0's {Shapes.Format(first.Dims)} off axis {axis}");
            total += d[axis];
        }
        shape[axis] = total;
        var r = ValueHelpers.Zeros(first.DataType, shape);
        var (outer, _, inner) = ValueHelpers.Split(shape, axis);
        int offset = 0;
        foreach (var t in s.Items)
        {
            int block = t.Dims[axis] * inner;
            for (int o = 0; o < outer; o++) Array.Copy(t.RawData, o * block, r.RawData, o * total * inner + offset, block);
            offset += block;
        }
        return r;
    }
}
