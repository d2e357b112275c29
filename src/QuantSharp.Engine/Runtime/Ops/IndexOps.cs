using static QuantSharp.Engine.Runtime.InputRole;
using System.Numerics;
using QuantSharp.Engine.Kernels;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Index-driven and small numeric ops without a dedicated kernel: GatherElements, Trilu, CumSum, Hardmax, Mod,
/// ReduceLogSum and ReduceLogSumExp. Forward only (no gradient rules); plain loops over row-major data.
/// </summary>
internal static class IndexOps
{
    public static void Register(OpRegistry r)
    {
        // GatherElements: out[i₀…iₙ] = data[i₀…, indices[i₀…iₙ] (at axis), …iₙ]; negative indices count from the end.
        Add(r, "GatherElements", 11, n =>
        {
            int axis = (int)n.GetInt("axis", 0);
            return ((a, _) => [GenericDispatch.Apply<GatherElementsFunc, Tensor>(a.Any(0), new GatherElementsFunc(a.Longs(1), a.Any(1).Shape, axis, n))], null);
        });
        // Trilu: keeps the upper (upper = 1, j − i ≥ k) or lower (j − i ≤ k) triangle of the last two axes; k is input 1 (default 0).
        Add(r, "Trilu", 14, n =>
        {
            bool upper = n.GetInt("upper", 1) != 0;
            return ((a, _) => [GenericDispatch.Apply<TriluFunc, Tensor>(a.Any(0), new TriluFunc(a.OptionalLongs(1)?[0] ?? 0, upper, n))], null);
        });
        // CumSum along input 1's axis; exclusive leaves out the current element, reverse sums from the end.
        Add(r, "CumSum", 11, n =>
        {
            bool exclusive = n.GetInt("exclusive", 0) != 0, reverse = n.GetInt("reverse", 0) != 0;
            return ((a, _) => [CumSum(a.Any(0), (int)a.Longs(1)[0], exclusive, reverse, n)], null);
        });
        // Hardmax: 1 at the first maximum along the axis, 0 elsewhere. Before opset 13 the input is coerced to 2-D at axis (default 1).
        Add(r, "Hardmax", 1, n => ((a, _) => [Hardmax(a.Float(0), (int)n.GetInt("axis", 1), coerce2D: true, n)], null));
        Add(r, "Hardmax", 13, n => ((a, _) => [Hardmax(a.Float(0), (int)n.GetInt("axis", -1), coerce2D: false, n)], null));
        // Mod: fmod = 0 takes the divisor's sign (Python %), fmod = 1 the dividend's (C fmod).
        Add(r, "Mod", 10, n =>
        {
            bool fmod = n.GetInt("fmod", 0) != 0;
            return ((a, _) => [TypedOps.Mod(a.Any(0), a.Any(1), fmod, n)], null);
        });
        // ReduceLogSum = log Σ x; ReduceLogSumExp = m + log Σ exp(x − m) with m the max over the same axes (no overflow).
        foreach (var (op, logSumExp) in new[] { ("ReduceLogSum", false), ("ReduceLogSumExp", true) })
        {
            Add(r, op, 1, n => (LogReduce(n, logSumExp, _ => Ints(n, "axes")), null));
            Add(r, op, 18, n => (LogReduce(n, logSumExp, a => a.OptionalLongs(1)?.Select(v => (int)v).ToArray()), null));
        }
        Describe(r);
    }

    /// <summary>Schema facts: index and count inputs are settings; GatherElements only selects.</summary>
    private static void Describe(OpRegistry r)
    {
        r.Describe("GatherElements").WithInputs(Data, Setting).WithTraits(OpTraits.DataMovement);
        r.Describe("Trilu").WithInputs(Data, Setting).WithShape(ShapeRules.SameAsInput);
        r.Describe("CumSum").WithInputs(Data, Setting).WithShape(ShapeRules.SameAsInput);
        r.Describe("Hardmax").WithShape(ShapeRules.SameAsInput);
        r.Describe("Mod").WithTraits(OpTraits.Elementwise).WithShape(ShapeRules.Broadcast);
        foreach (var op in new[] { "ReduceLogSum", "ReduceLogSumExp" }) r.Describe(op).WithInputs(Data, Setting);
    }

    private static ForwardRule LogReduce(Node n, bool logSumExp, Func<OpArgs, int[]?> axesOf)
    {
        bool keepDims = n.GetInt("keepdims", 1) != 0, noop = n.GetInt("noop_with_empty_axes", 0) != 0;
        return (a, _) =>
        {
            // Double inputs are reduced in float32 precision and converted back.
            var input = a.Any(0);
            var x = input is Tensor<double> d ? ToFloat(d) : a.Float(0);
            var result = Compute(x, axesOf(a));
            return [input is Tensor<double> ? ToDouble(result) : result];
        };

        Tensor<float> Compute(Tensor<float> x, int[]? axes)
        {
            if (axes is null or { Length: 0 })
            {
                if (noop) return x;
                axes = null;
            }
            if (!logSumExp) return Elementwise.Log(Reduce.Apply(ReduceKind.Sum, x, axes, keepDims));
            var max = Reduce.Apply(ReduceKind.Max, x, axes, keepDims: true);
            for (int i = 0; i < max.Length; i++) if (float.IsInfinity(max.Data[i])) max.Data[i] = 0;
            var sum = Reduce.Apply(ReduceKind.Sum, Elementwise.Exp(Elementwise.Sub(x, max)), axes, keepDims: true);
            var y = Elementwise.Add(Elementwise.Log(sum), max);
            return keepDims ? y : y.Reshape(Reduce.Apply(ReduceKind.Max, x, axes, keepDims: false).Shape);
        }
    }

    private static Tensor<float> ToFloat(Tensor<double> d)
    {
        var f = new Tensor<float>(d.Dims);
        for (int i = 0; i < f.Length; i++) f.Data[i] = (float)d.Data[i];
        return f;
    }

    private static Tensor<double> ToDouble(Tensor<float> f)
    {
        var d = new Tensor<double>(f.Dims);
        for (int i = 0; i < d.Length; i++) d.Data[i] = f.Data[i];
        return d;
    }

    private static Tensor<float> Hardmax(Tensor<float> x, int axis, bool coerce2D, Node n)
    {
        int rank = Math.Max(x.Rank, 1);
        int ax = Check.Axis(n.OpType, "axis", axis, rank);
        int outer = 1, len, inner = 1;
        if (coerce2D)
        {
            for (int i = 0; i < ax; i++) outer *= x.Dims[i];
            len = outer == 0 ? 0 : x.Length / outer;
        }
        else
        {
            for (int i = 0; i < ax; i++) outer *= x.Dims[i];
            len = x.Rank == 0 ? 1 : x.Dims[ax];
            for (int i = ax + 1; i < x.Rank; i++) inner *= x.Dims[i];
        }
        var y = new Tensor<float>(x.Dims);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                int baseIndex = o * len * inner + j, best = -1;
                for (int k = 0; k < len; k++)
                    if (best < 0 || x.Data[baseIndex + k * inner] > x.Data[baseIndex + best * inner]) best = k;
                if (best >= 0) y.Data[baseIndex + best * inner] = 1;
            }
        return y;
    }

    private static Tensor CumSum(Tensor x, int axis, bool exclusive, bool reverse, Node n) => x switch
    {
        Tensor<float> t => CumSumT(t, axis, exclusive, reverse, n),
        Tensor<double> t => CumSumT(t, axis, exclusive, reverse, n),
        Tensor<int> t => CumSumT(t, axis, exclusive, reverse, n),
        Tensor<long> t => CumSumT(t, axis, exclusive, reverse, n),
        _ => throw new GraphException($"node {n.Label}: CumSum on element type {x.DataType} is not supported"),
    };

    private static Tensor<T> CumSumT<T>(Tensor<T> x, int axis, bool exclusive, bool reverse, Node n) where T : unmanaged, INumber<T>
    {
        int ax = Check.Axis(n.OpType, "axis", axis, Math.Max(x.Rank, 1));
        int outer = 1, len = x.Rank == 0 ? 1 : x.Dims[ax], inner = 1;
        for (int i = 0; i < ax; i++) outer *= x.Dims[i];
        for (int i = ax + 1; i < x.Rank; i++) inner *= x.Dims[i];
        var y = new Tensor<T>(x.Dims);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                T acc = T.Zero;
                for (int s = 0; s < len; s++)
                {
                    int k = reverse ? len - 1 - s : s, idx = (o * len + k) * inner + j;
                    if (exclusive) { y.Data[idx] = acc; acc += x.Data[idx]; }
                    else { acc += x.Data[idx]; y.Data[idx] = acc; }
                }
            }
        return y;
    }

    private readonly record struct GatherElementsFunc(long[] Indices, int[] IndexShape, int Axis, Node Node) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            int rank = x.Rank;
            int ax = Check.Axis("GatherElements", "axis", Axis, rank);
            Check.That(IndexShape.Length == rank, "GatherElements", "indices", $"rank {rank}", $"shape {Shapes.Format(IndexShape)} (rank {IndexShape.Length})");
            var y = new Tensor<T>(IndexShape);
            var xStrides = Shapes.Strides(x.Dims);
            var yStrides = Shapes.Strides(IndexShape);
            int dim = x.Dims[ax];
            for (int i = 0; i < y.Length; i++)
            {
                int rest = i, offset = 0;
                for (int d = 0; d < rank; d++)
                {
                    int c = rest / yStrides[d];
                    rest -= c * yStrides[d];
                    if (d == ax)
                    {
                        long v = Indices[i] < 0 ? Indices[i] + dim : Indices[i];
                        if (v < 0 || v >= dim) throw new ShapeException($"GatherElements: argument 'indices' expected values in [{-dim}, {dim - 1}], got {Indices[i]}");
                        c = (int)v;
                    }
                    else if (c >= x.Dims[d]) throw new ShapeException($"GatherElements: argument 'indices' expected dimension {d} at most {x.Dims[d]}, got {IndexShape[d]}");
                    offset += c * xStrides[d];
                }
                y.Data[i] = x.Data[offset];
            }
            return y;
        }
    }

    private readonly record struct TriluFunc(long K, bool Upper, Node Node) : IGenericTensorFunc<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged
        {
            Check.AtLeast("Trilu", "input rank", x.Rank, 2);
            int rows = x.Dims[^2], cols = x.Dims[^1];
            var y = new Tensor<T>(x.Dims);
            int plane = rows * cols;
            for (int i = 0; i < x.Length; i++)
            {
                int within = i % Math.Max(plane, 1), r = within / cols, c = within % cols;
                bool keep = Upper ? c - r >= K : c - r <= K;
                if (keep) y.Data[i] = x.Data[i];
            }
            return y;
        }
    }
}
