using static QuantSharp.Engine.Runtime.InputRole;
using System.Numerics;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Ops whose output positions or sizes depend on values: NonZero, Unique, ScatterND (reduction none/add/mul/max/min),
/// ReverseSequence. Forward only; plain loops over row-major data.
/// </summary>
internal static class SparseIndexOps
{
    public static void Register(OpRegistry r)
    {
        // NonZero: int64 [rank, count], the coordinates of every non-zero element in row-major order (NaN counts as non-zero).
        Add(r, "NonZero", 9, n => ((a, _) => [GenericDispatch.Apply<NonZeroFunc, Tensor>(a.Any(0), default)], null));
        // ReverseSequence: per batch entry b, the first sequence_lens[b] steps along time_axis are reversed, the rest copied.
        Add(r, "ReverseSequence", 10, n =>
        {
            int timeAxis = (int)n.GetInt("time_axis", 0), batchAxis = (int)n.GetInt("batch_axis", 1);
            if (!(timeAxis is 0 or 1 && batchAxis is 0 or 1 && timeAxis != batchAxis))
                throw new GraphException($"node {n.Label}: attributes 'time_axis' and 'batch_axis' expected 0 and 1 in some order, got {timeAxis} and {batchAxis}");
            return ((a, _) => [GenericDispatch.Apply<ReverseSequenceFunc, Tensor>(a.Any(0), new ReverseSequenceFunc(a.Longs(1), timeAxis, batchAxis, n))], null);
        });
        // ScatterND: a copy of data with data[indices[i…, :]] (a slice when the last index dimension is shorter than the
        // rank) replaced by, or combined with, updates[i…]; the reduction attribute arrived at 16 (add, mul) and 18 (max, min).
        Add(r, "ScatterND", 11, n =>
        {
            string reduction = n.GetString("reduction", "none");
            if (reduction is not ("none" or "add" or "mul" or "max" or "min"))
                throw new GraphException($"node {n.Label}: attribute 'reduction' expected none, add, mul, max or min, got '{reduction}'");
            return ((a, _) => [ScatterND(a.Any(0), a.Longs(1), a.Any(1).Shape, a.Any(2), reduction, n)], null);
        });
        // Unique: distinct elements (no axis, flattened) or distinct slices along axis, sorted ascending or in order of first
        // appearance; outputs Y, first-occurrence indices, inverse indices and counts (int64).
        Add(r, "Unique", 11, n =>
        {
            bool sorted = n.GetInt("sorted", 1) != 0;
            long? axis = n.Attributes.ContainsKey("axis") ? n.GetInt("axis", 0) : null;
            return ((a, _) => GenericDispatch.Apply<UniqueFunc, Tensor[]>(a.Any(0), new UniqueFunc(sorted, axis, n)), null);
        });
        Describe(r);
    }

    /// <summary>Schema facts: indices and lengths are settings; NonZero and Unique's index outputs are int64; ScatterND moves data.</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("NonZero").WithOutputType(TypeRules.Fixed(DataType.Int64));
        r.Describe("ReverseSequence").WithInputs(Data, Setting).WithTraits(OpTraits.DataMovement).WithShape(ShapeRules.SameAsInput);
        r.Describe("ScatterND").WithInputs(Data, Setting, Data).WithShape(ShapeRules.SameAsInput);
        r.Describe("Unique").WithOutputType(TypeRules.ValuesAndIndices());
    }

    private readonly record struct NonZeroFunc : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            var cmp = EqualityComparer<T>.Default;
            int count = 0;
            foreach (var v in x.Data) if (!cmp.Equals(v, default)) count++;
            int rank = x.Rank;
            var y = new Tensor<long>([rank, count]);
            var idx = new int[rank];
            int c = 0;
            for (int i = 0; i < x.Length; i++)
            {
                if (!cmp.Equals(x.Data[i], default))
                {
                    for (int d = 0; d < rank; d++) y.Data[d * count + c] = idx[d];
                    c++;
                }
                for (int d = rank - 1; d >= 0 && ++idx[d] == x.Dims[d]; d--) idx[d] = 0;
            }
            return y;
        }
    }

    private readonly record struct ReverseSequenceFunc(long[] Lengths, int TimeAxis, int BatchAxis, Node Node) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            if (x.Rank < 2) throw new GraphException($"node {Node.Label}: input 0 expected rank 2 or more, got shape {Shapes.Format(x.Dims)}");
            int steps = x.Dims[TimeAxis], batch = x.Dims[BatchAxis], inner = x.Length / Math.Max(1, steps * batch);
            if (Lengths.Length != batch)
                throw new GraphException($"node {Node.Label}: input 1 (sequence_lens) expected {batch} values (the batch size), got {Lengths.Length}");
            var y = new Tensor<T>(x.Dims);
            int timeStride = (TimeAxis == 0 ? batch : 1) * inner, batchStride = (BatchAxis == 0 ? steps : 1) * inner;
            for (int b = 0; b < batch; b++)
            {
                long len = Lengths[b];
                if (len < 0 || len > steps)
                    throw new GraphException($"node {Node.Label}: input 1 (sequence_lens) expected values in [0, {steps}], got {len} at batch {b}");
                for (int t = 0; t < steps; t++)
                {
                    int from = t < len ? (int)len - 1 - t : t;
                    Array.Copy(x.Data, b * batchStride + from * timeStride, y.Data, b * batchStride + t * timeStride, inner);
                }
            }
            return y;
        }
    }

    private static Tensor ScatterND(Tensor data, long[] indices, int[] indexShape, Tensor updates, string reduction, Node n)
    {
        if (updates.DataType != data.DataType)
            throw new GraphException($"node {n.Label}: input 2 (updates) expected element type {data.DataType}, got {updates.DataType}");
        return data switch
        {
            Tensor<float> d => ScatterNDT(d, indices, indexShape, (Tensor<float>)updates, reduction, n),
            Tensor<double> d => ScatterNDT(d, indices, indexShape, (Tensor<double>)updates, reduction, n),
            Tensor<int> d => ScatterNDT(d, indices, indexShape, (Tensor<int>)updates, reduction, n),
            Tensor<long> d => ScatterNDT(d, indices, indexShape, (Tensor<long>)updates, reduction, n),
            Tensor<sbyte> d => ScatterNDT(d, indices, indexShape, (Tensor<sbyte>)updates, reduction, n),
            Tensor<byte> d => ScatterNDT(d, indices, indexShape, (Tensor<byte>)updates, reduction, n),
            Tensor<short> d => ScatterNDT(d, indices, indexShape, (Tensor<short>)updates, reduction, n),
            Tensor<ushort> d => ScatterNDT(d, indices, indexShape, (Tensor<ushort>)updates, reduction, n),
            Tensor<bool> d when reduction == "none" => ScatterNDCopy(d, indices, indexShape, (Tensor<bool>)updates, n),
            _ => throw new GraphException($"node {n.Label}: ScatterND with reduction '{reduction}' on element type {data.DataType} is not supported"),
        };
    }

    private static Tensor<T> ScatterNDCopy<T>(Tensor<T> data, long[] indices, int[] indexShape, Tensor<T> updates, Node n) where T : unmanaged
    {
        var y = new Tensor<T>(data.Dims);
        Array.Copy(data.Data, y.Data, data.Length);
        foreach (var (dst, src, len) in ScatterNDPlan(data.Shape, indices, indexShape, updates.Shape, n))
            Array.Copy(updates.Data, src, y.Data, dst, len);
        return y;
    }

    private static Tensor<T> ScatterNDT<T>(Tensor<T> data, long[] indices, int[] indexShape, Tensor<T> updates, string reduction, Node n)
        where T : unmanaged, INumber<T>
    {
        if (reduction == "none") return ScatterNDCopy(data, indices, indexShape, updates, n);
        var y = new Tensor<T>(data.Dims);
        Array.Copy(data.Data, y.Data, data.Length);
        foreach (var (dst, src, len) in ScatterNDPlan(data.Shape, indices, indexShape, updates.Shape, n))
            for (int j = 0; j < len; j++)
            {
                T a = y.Data[dst + j], u = updates.Data[src + j];
                y.Data[dst + j] = reduction switch
                {
                    "add" => a + u,
                    "mul" => a * u,
                    "max" => T.Max(a, u),
                    _ => T.Min(a, u),
                };
            }
        return y;
    }

    /// <summary>(destination offset, update offset, element count) of each index tuple, in index order (later tuples win).</summary>
    private static IEnumerable<(int Dst, int Src, int Len)> ScatterNDPlan(int[] dataShape, long[] indices, int[] indexShape, int[] updateShape, Node n)
    {
        if (indexShape.Length < 1) throw new GraphException($"node {n.Label}: input 1 (indices) expected rank 1 or more, got a scalar");
        int k = indexShape[^1], r = dataShape.Length, q = indexShape.Length;
        if (k > r) throw new GraphException($"node {n.Label}: input 1 (indices) expected a last dimension of at most {r} (the data rank), got {k}");
        var expected = indexShape[..^1].Concat(dataShape[k..]).ToArray();
        if (!updateShape.SequenceEqual(expected))
            throw new GraphException($"node {n.Label}: input 2 (updates) expected shape {Shapes.Format(expected)}, got {Shapes.Format(updateShape)}");
        var strides = Shapes.Strides(dataShape);
        int slice = 1;
        for (int d = k; d < r; d++) slice *= dataShape[d];
        int tuples = 1;
        for (int d = 0; d < q - 1; d++) tuples *= indexShape[d];
        for (int t = 0; t < tuples; t++)
        {
            int off = 0;
            for (int d = 0; d < k; d++)
            {
                long v = indices[t * k + d];
                if (v < 0) v += dataShape[d];
                if (v < 0 || v >= dataShape[d])
                    throw new GraphException($"node {n.Label}: input 1 (indices) value {indices[t * k + d]} is out of range for dimension {d} of size {dataShape[d]}");
                off += (int)v * strides[d];
            }
            yield return (off, t * slice, slice);
        }
    }

    private readonly record struct UniqueFunc(bool Sorted, long? Axis, Node Node) : IGenericTensorFunc<Tensor[]>
    {
        public Tensor[] Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            // Slices along the axis: count of them, elements per slice, and the element offsets of slice i.
            int axis = Axis is { } a ? Check.Axis("Unique", "axis", (int)a, x.Rank) : -1;
            int count = axis < 0 ? x.Length : x.Dims[axis];
            int outer = 1, inner = 1;
            if (axis >= 0)
            {
                for (int d = 0; d < axis; d++) outer *= x.Dims[d];
                for (int d = axis + 1; d < x.Rank; d++) inner *= x.Dims[d];
            }
            var data = x.Data;
            int i2 = inner, c2 = count;
            int Offset(int slice, int j) => axis < 0 ? slice : (j / i2 * c2 + slice) * i2 + j % i2;
            int width = axis < 0 ? 1 : outer * inner;
            var comparer = Comparer<T>.Default;
            int Compare(int s, int t)
            {
                for (int j = 0; j < width; j++)
                {
                    int c = comparer.Compare(data[Offset(s, j)], data[Offset(t, j)]);
                    if (c != 0) return c;
                }
                return 0;
            }
            // A stable sort keeps equal slices in order of appearance, so each group starts at its first occurrence.
            var order = Enumerable.Range(0, count).ToArray();
            var keyed = order.OrderBy(i => i, Comparer<int>.Create(Compare)).ToArray();
            var groups = new List<(int First, List<int> Members)>();
            foreach (int i in keyed)
            {
                if (groups.Count > 0 && Compare(groups[^1].First, i) == 0) groups[^1].Members.Add(i);
                else groups.Add((i, [i]));
            }
            if (!Sorted) groups.Sort((g, h) => g.First.CompareTo(h.First));
            int u = groups.Count;
            var yShape = axis < 0 ? new[] { u } : x.Dims.ToArray();
            if (axis >= 0) yShape[axis] = u;
            var y = new Tensor<T>(yShape);
            var first = new Tensor<long>([u]);
            var inverse = new Tensor<long>([count]);
            var counts = new Tensor<long>([u]);
            for (int g = 0; g < u; g++)
            {
                first.Data[g] = groups[g].First;
                counts.Data[g] = groups[g].Members.Count;
                foreach (int m in groups[g].Members) inverse.Data[m] = g;
                for (int j = 0; j < width; j++)
                {
                    int dst = axis < 0 ? g : (j / inner * u + g) * inner + j % inner;
                    y.Data[dst] = data[Offset(groups[g].First, j)];
                }
            }
            return [y, first, inverse, counts];
        }
    }
}
