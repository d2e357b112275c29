using QuantSharp.Engine.Kernels.Operators;

namespace QuantSharp.Engine.Kernels;

/// <summary>The ONNX reductions.</summary>
public enum ReduceKind
{
    /// <summary>ReduceSum: Σ x.</summary>
    Sum,
    /// <summary>ReduceMean: Σ x / n.</summary>
    Mean,
    /// <summary>ReduceMax: max x.</summary>
    Max,
    /// <summary>ReduceMin: min x.</summary>
    Min,
    /// <summary>ReduceProd: Π x.</summary>
    Prod,
    /// <summary>ReduceSumSquare: Σ x².</summary>
    SumSquare,
    /// <summary>ReduceL1: Σ |x|.</summary>
    L1,
    /// <summary>ReduceL2: √(Σ x²).</summary>
    L2,
}

/// <summary>
/// Reductions over any set of axes with ONNX semantics: <c>axes</c> null or empty reduces every axis,
/// negative axes count from the end, <c>keepDims</c> (ONNX default true) keeps reduced axes as size 1.
/// Consecutive reduced axes are merged and each block is reduced in one pass of <see cref="ReduceKernels"/>.
/// </summary>
public static partial class Reduce
{
    /// <summary>ONNX ReduceSum.</summary>
    public static Tensor<float> Sum(Tensor<float> x, int[]? axes = null, bool keepDims = true) => Apply(ReduceKind.Sum, x, axes, keepDims);
    /// <summary>ONNX ReduceMean.</summary>
    public static Tensor<float> Mean(Tensor<float> x, int[]? axes = null, bool keepDims = true) => Apply(ReduceKind.Mean, x, axes, keepDims);
    /// <summary>ONNX ReduceMax (NaN propagates; −∞ for an empty reduction).</summary>
    public static Tensor<float> Max(Tensor<float> x, int[]? axes = null, bool keepDims = true) => Apply(ReduceKind.Max, x, axes, keepDims);
    /// <summary>ONNX ReduceMin (NaN propagates; +∞ for an empty reduction).</summary>
    public static Tensor<float> Min(Tensor<float> x, int[]? axes = null, bool keepDims = true) => Apply(ReduceKind.Min, x, axes, keepDims);
    /// <summary>ONNX ReduceProd.</summary>
    public static Tensor<float> Prod(Tensor<float> x, int[]? axes = null, bool keepDims = true) => Apply(ReduceKind.Prod, x, axes, keepDims);
    /// <summary>ONNX ReduceSumSquare.</summary>
    public static Tensor<float> SumSquare(Tensor<float> x, int[]? axes = null, bool keepDims = true) => Apply(ReduceKind.SumSquare, x, axes, keepDims);
    /// <summary>ONNX ReduceL1.</summary>
    public static Tensor<float> L1(Tensor<float> x, int[]? axes = null, bool keepDims = true) => Apply(ReduceKind.L1, x, axes, keepDims);
    /// <summary>ONNX ReduceL2.</summary>
    public static Tensor<float> L2(Tensor<float> x, int[]? axes = null, bool keepDims = true) => Apply(ReduceKind.L2, x, axes, keepDims);

    /// <summary>The name ONNX gives the reduction.</summary>
    public static string OnnxName(ReduceKind kind) => "Reduce" + kind;

    /// <summary>Reduces <paramref name="x"/> over <paramref name="axes"/> with <paramref name="kind"/>.</summary>
    public static Tensor<float> Apply(ReduceKind kind, Tensor<float> x, int[]? axes = null, bool keepDims = true)
    {
        string op = OnnxName(kind);
        var reduced = ReducedMask(op, x.Rank, axes);
        var keptShape = x.Shape;
        long count = 1;
        for (int d = 0; d < x.Rank; d++) if (reduced[d]) { count *= keptShape[d]; keptShape[d] = 1; }

        var cur = x;
        var shape = x.Shape;
        bool first = true;
        // Reduce consecutive blocks of reduced axes, innermost first; the first pass applies the element map.
        int axis = x.Rank - 1;
        while (axis >= 0)
        {
            if (!reduced[axis]) { axis--; continue; }
            int end = axis + 1;
            while (axis - 1 >= 0 && reduced[axis - 1]) axis--;
            int start = axis;
            int outer = 1, r = 1, inner = 1;
            for (int d = 0; d < start; d++) outer *= shape[d];
            for (int d = start; d < end; d++) r *= shape[d];
            for (int d = end; d < shape.Length; d++) inner *= shape[d];
            for (int d = start; d < end; d++) shape[d] = 1;
            var next = new Tensor<float>(shape);
            RunPass(kind, first, cur.Data, next.Data, outer, r, inner);
            cur = next;
            first = false;
            axis--;
        }
        if (first) cur = RunIdentityPass(kind, x); // nothing reduced (rank 0): still map (e.g. x² for SumSquare)

        if (kind == ReduceKind.Mean) cur = Elementwise.Scale(cur, count == 0 ? float.NaN : 1f / count, cur);
        else if (kind == ReduceKind.L2) cur = Elementwise.Sqrt(cur, cur);
        return cur.Reshape(keepDims ? keptShape : DroppedShape(x.Dims, reduced));
    }

    private static Tensor<float> RunIdentityPass(ReduceKind kind, Tensor<float> x)
    {
        var y = new Tensor<float>(x.Dims);
        RunPass(kind, true, x.Data, y.Data, x.Length, 1, 1);
        return y;
    }

    private static void RunPass(ReduceKind kind, bool first, float[] src, float[] dst, int outer, int r, int inner)
    {
        int w = ElementwiseDriver.BestWidth;
        switch (kind)
        {
            case ReduceKind.Max: ReduceKernels.Run(new MaxReduce(), src, dst, outer, r, inner, w); break;
            case ReduceKind.Min: ReduceKernels.Run(new MinReduce(), src, dst, outer, r, inner, w); break;
            case ReduceKind.Prod: ReduceKernels.Run(new ProdReduce(), src, dst, outer, r, inner, w); break;
            case ReduceKind.SumSquare or ReduceKind.L2 when first: ReduceKernels.Run(new SumSquareReduce(), src, dst, outer, r, inner, w); break;
            case ReduceKind.L1 when first: ReduceKernels.Run(new SumAbsReduce(), src, dst, outer, r, inner, w); break;
            default: ReduceKernels.Run(new SumReduce(), src, dst, outer, r, inner, w); break;
        }
    }

    /// <summary>Which axes are reduced; null/empty axes mean all. Throws on out-of-range or repeated axes.</summary>
    internal static bool[] ReducedMask(string op, int rank, int[]? axes)
    {
        var mask = new bool[rank];
        if (axes is null || axes.Length == 0) { Array.Fill(mask, true); return mask; }
        foreach (int a in axes)
        {
            int d = Check.Axis(op, "axes", a, rank);
            Check.That(!mask[d], op, "axes", "distinct axes", $"axis {a} repeated in [{string.Join(",", axes)}]");
            if (rank > 0) mask[d] = true;
        }
        return mask;
    }

    internal static int[] DroppedShape(ReadOnlySpan<int> shape, bool[] reduced)
    {
        var list = new List<int>();
        for (int d = 0; d < shape.Length; d++) if (!reduced[d]) list.Add(shape[d]);
        return list.ToArray();
    }

    /// <summary>
    /// Sums a broadcast gradient back to an operand's shape: the leading axes the operand lacks and the axes
    /// where it has size 1 are summed out. Returns <paramref name="gradient"/> itself when the shapes already match.
    /// </summary>
    public static Tensor<float> SumTo(Tensor<float> gradient, ReadOnlySpan<int> targetShape)
    {
        if (gradient.Dims.SequenceEqual(targetShape)) return gradient;
        int rank = gradient.Rank, off = rank - targetShape.Length;
        Check.That(off >= 0, "SumTo", "targetShape", $"rank <= {rank} (gradient shape {Shapes.Format(gradient.Dims)})", Shapes.Format(targetShape));
        var axes = new List<int>();
        for (int d = 0; d < rank; d++)
        {
            int t = d < off ? 1 : targetShape[d - off];
            if (d < off || (t == 1 && gradient.Dims[d] != 1)) axes.Add(d);
            else Check.That(t == gradient.Dims[d], "SumTo", "targetShape",
                $"a shape that broadcasts to {Shapes.Format(gradient.Dims)}", Shapes.Format(targetShape));
        }
        if (axes.Count == 0) return gradient.Reshape(targetShape.ToArray());
        return Sum(gradient, axes.ToArray(), keepDims: true).Reshape(targetShape.ToArray());
    }
}
