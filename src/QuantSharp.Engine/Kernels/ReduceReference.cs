namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Plain scalar reductions, the oracle for <see cref="Reduce"/>: each output element is folded over its
/// reduced indices in row-major order (sums and products in double; max/min exact).
/// </summary>
public static class ReduceReference
{
    /// <summary>Reduces <paramref name="x"/> over <paramref name="axes"/> (ONNX semantics as <see cref="Reduce.Apply"/>).</summary>
    public static Tensor<float> Apply(ReduceKind kind, Tensor<float> x, int[]? axes = null, bool keepDims = true)
    {
        var mask = Reduce.ReducedMask("Reference", x.Rank, axes);
        var kept = x.Shape;
        for (int d = 0; d < x.Rank; d++) if (mask[d]) kept[d] = 1;
        int outLen = Shapes.Size(kept);
        var acc = new double[outLen];
        Array.Fill(acc, kind switch { ReduceKind.Prod => 1.0, ReduceKind.Max => double.NegativeInfinity, ReduceKind.Min => double.PositiveInfinity, _ => 0.0 });
        var ostr = Shapes.BroadcastStrides(kept, x.Dims);
        var count = new long[outLen];
        for (int i = 0; i < x.Length; i++)
        {
            int rem = i, o = 0;
            for (int d = x.Rank - 1; d >= 0; d--) { o += rem % x.Dims[d] * ostr[d]; rem /= x.Dims[d]; }
            double v = x.Data[i];
            count[o]++;
            acc[o] = kind switch
            {
                ReduceKind.Max => double.IsNaN(acc[o]) || double.IsNaN(v) ? double.NaN : Math.Max(acc[o], v),
                ReduceKind.Min => double.IsNaN(acc[o]) || double.IsNaN(v) ? double.NaN : Math.Min(acc[o], v),
                ReduceKind.Prod => acc[o] * v,
                ReduceKind.SumSquare or ReduceKind.L2 => acc[o] + v * v,
                ReduceKind.L1 => acc[o] + Math.Abs(v),
                _ => acc[o] + v,
            };
        }
        var y = new Tensor<float>(keepDims ? kept : Reduce.DroppedShape(x.Dims, mask));
        for (int o = 0; o < outLen; o++)
            y.Data[o] = (float)(kind == ReduceKind.Mean ? acc[o] / count[o] : kind == ReduceKind.L2 ? Math.Sqrt(acc[o]) : acc[o]);
        return y;
    }

    /// <summary>ArgMax/ArgMin by a plain scan (NaN wins; ties to the first, or last index).</summary>
    public static Tensor<long> Arg(Tensor<float> x, int axis, bool keepDims, bool selectLastIndex, bool isMax)
    {
        int d = Check.Axis("Reference", "axis", axis, x.Rank);
        int outer = 1, inner = 1, r = x.Dims[d];
        for (int k = 0; k < d; k++) outer *= x.Dims[k];
        for (int k = d + 1; k < x.Rank; k++) inner *= x.Dims[k];
        var kept = x.Shape; kept[d] = 1;
        var mask = new bool[x.Rank]; mask[d] = true;
        var y = new Tensor<long>(keepDims ? kept : Reduce.DroppedShape(x.Dims, mask));
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                float best = x.Data[o * r * inner + j]; long idx = 0;
                for (int k = 1; k < r; k++)
                {
                    float v = x.Data[(o * r + k) * inner + j];
                    if (Reduce.Better(v, best, selectLastIndex, isMax)) { best = v; idx = k; }
                }
                y.Data[o * inner + j] = idx;
            }
        return y;
    }
}
