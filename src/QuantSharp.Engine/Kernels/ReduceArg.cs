using System.Runtime.Intrinsics;
using QuantSharp.Engine.Kernels.Operators;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

public static partial class Reduce
{
    /// <summary>
    /// ONNX ArgMax: index of the largest element along <paramref name="axis"/> (int64). Ties go to the first
    /// index, or the last with <paramref name="selectLastIndex"/>. NaN counts as the largest (numpy), so the
    /// first (or last) NaN wins.
    /// </summary>
    public static Tensor<long> ArgMax(Tensor<float> x, int axis = 0, bool keepDims = true, bool selectLastIndex = false) =>
        Arg(x, axis, keepDims, selectLastIndex, true);

    /// <summary>ONNX ArgMin: as <see cref="ArgMax"/> for the smallest element (NaN counts as the smallest).</summary>
    public static Tensor<long> ArgMin(Tensor<float> x, int axis = 0, bool keepDims = true, bool selectLastIndex = false) =>
        Arg(x, axis, keepDims, selectLastIndex, false);

    private static Tensor<long> Arg(Tensor<float> x, int axis, bool keepDims, bool last, bool isMax)
    {
        string op = isMax ? "ArgMax" : "ArgMin";
        Check.That(x.Rank >= 1, op, "data", "rank >= 1", "a scalar");
        int d = Check.Axis(op, "axis", axis, x.Rank);
        int r = x.Dims[d];
        Check.That(r > 0, op, "data", $"a non-empty axis {axis}", Shapes.Format(x.Dims));
        int outer = 1, inner = 1;
        for (int k = 0; k < d; k++) outer *= x.Dims[k];
        for (int k = d + 1; k < x.Rank; k++) inner *= x.Dims[k];
        var reduced = new bool[x.Rank]; reduced[d] = true;
        var kept = x.Shape; kept[d] = 1;
        var y = new Tensor<long>(keepDims ? kept : DroppedShape(x.Dims, reduced));
        float[] xs = x.Data; long[] ys = y.Data;
        int width = ElementwiseDriver.BestWidth;
        Work.For(outer, Math.Max(1, (1 << 15) / Math.Max(1, r * inner)), (s, e) =>
        {
            for (int o = s; o < e; o++)
            {
                if (inner == 1) ys[o] = ArgRow(xs.AsSpan(o * r, r), last, isMax, width);
                else ArgColumns(xs, o * r * inner, r, inner, ys.AsSpan(o * inner, inner), last, isMax);
            }
        });
        return y;
    }

    /// <summary>Arg of a contiguous row: the vectorized max (or min) first, then a scan for its first/last position.</summary>
    internal static unsafe long ArgRow(ReadOnlySpan<float> row, bool last, bool isMax, int width)
    {
        float best;
        fixed (float* p = row)
            best = isMax ? ReduceKernels.Row(new MaxReduce(), p, row.Length, width) : ReduceKernels.Row(new MinReduce(), p, row.Length, width);
        bool nan = float.IsNaN(best);
        if (last)
        {
            for (int i = row.Length - 1; i >= 0; i--)
                if (row[i] == best || (nan && float.IsNaN(row[i]))) return i;
        }
        else
        {
            for (int i = 0; i < row.Length; i++)
                if (row[i] == best || (nan && float.IsNaN(row[i]))) return i;
        }
        return 0;
    }

    private static void ArgColumns(float[] x, int offset, int r, int inner, Span<long> y, bool last, bool isMax)
    {
        for (int j = 0; j < inner; j++)
        {
            float best = x[offset + j]; long idx = 0;
            for (int k = 1; k < r; k++)
            {
                float v = x[offset + k * inner + j];
                if (Better(v, best, last, isMax)) { best = v; idx = k; }
            }
            y[j] = idx;
        }
    }

    /// <summary>Whether a later element <paramref name="v"/> replaces the current best (NaN wins, ties per <paramref name="last"/>).</summary>
    internal static bool Better(float v, float best, bool last, bool isMax)
    {
        if (float.IsNaN(best)) return last && float.IsNaN(v);
        if (float.IsNaN(v)) return true;
        return isMax ? v > best || (last && v == best) : v < best || (last && v == best);
    }
}
