using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine;

/// <summary>How ONNX <c>Pad</c> fills the new border.</summary>
public enum PadMode
{
    /// <summary>With a constant value.</summary>
    Constant,
    /// <summary>Mirrored about the edge element, without repeating it (<c>[1,2,3]</c> padded by 2 → <c>3,2,[1,2,3],2,1</c>).</summary>
    Reflect,
    /// <summary>With copies of the edge element.</summary>
    Edge,
}

public static partial class TensorOps
{
    /// <summary>
    /// ONNX <c>Pad</c> (opset 18): pads (positive) or crops (negative) each axis.
    /// </summary>
    /// <remarks>
    /// <paramref name="pads"/> lists all begin amounts then all end amounts, one pair per entry of
    /// <paramref name="axes"/> (default: every axis, so length 2·rank). Axis k grows from d to
    /// d + begin + end. Output index o reads input index i = o − begin when 0 ≤ i &lt; d; otherwise
    /// <see cref="PadMode.Constant"/> writes <paramref name="value"/>, <see cref="PadMode.Edge"/> reads
    /// clamp(i, 0, d−1) and <see cref="PadMode.Reflect"/> reads the mirror image of i (period 2(d−1), as
    /// numpy's <c>reflect</c>, so pads wider than d−1 keep reflecting; d = 1 repeats the element). Negative
    /// pads crop the result of that mapping, i.e. mirroring and edge copies always refer to the whole input.
    /// </remarks>
    public static Tensor<T> Pad<T>(Tensor<T> x, ReadOnlySpan<long> pads, PadMode mode = PadMode.Constant, T value = default,
        ReadOnlySpan<long> axes = default) where T : unmanaged
    {
        var maps = PadMaps(x.Dims, pads, mode, axes, out var outShape);
        var y = new Tensor<T>(outShape);
        if (y.Length == 0) return y;
        int rank = x.Rank;
        if (rank == 0) { y.Data[0] = x.Data[0]; return y; }
        var strides = Strided.Strides(x.Dims);
        int inner = outShape[rank - 1];
        int rows = y.Length / inner;
        var last = maps[rank - 1];
        FindRun(last, out int runStart, out int runEnd);
        var src = x.Data; var dst = y.Data;
        void Body(int start, int end)
        {
            for (int row = start; row < end; row++)
            {
                long srcRow = RowSource(row, outShape, maps, strides);
                var d = dst.AsSpan(row * inner, inner);
                if (srcRow < 0) { d.Fill(value); continue; }
                for (int o = 0; o < runStart; o++) d[o] = last[o] < 0 ? value : src[srcRow + last[o]];
                if (runEnd > runStart)
                    src.AsSpan((int)(srcRow + last[runStart]), runEnd - runStart).CopyTo(d[runStart..runEnd]);
                for (int o = runEnd; o < inner; o++) d[o] = last[o] < 0 ? value : src[srcRow + last[o]];
            }
        }
        if (y.Length >= 1 << 16) Work.For(rows, Math.Max(1, (1 << 15) / inner), Body);
        else Body(0, rows);
        return y;
    }

    /// <summary>
    /// Gradient of <see cref="Pad{T}"/> with respect to its input: every output element adds its gradient to the
    /// input element it was read from (constant-filled elements contribute nothing). For constant mode this is a crop
    /// (and zeros where negative pads cropped the input); reflect and edge accumulate mirrored/repeated positions.
    /// </summary>
    public static Tensor<float> PadBackward(Tensor<float> gradOutput, ReadOnlySpan<int> inputShape, ReadOnlySpan<long> pads,
        PadMode mode = PadMode.Constant, ReadOnlySpan<long> axes = default)
    {
        var maps = PadMaps(inputShape, pads, mode, axes, out var outShape);
        Check.SameShape("PadBackward", "gradOutput", outShape, gradOutput.Dims);
        var gx = new Tensor<float>(inputShape);
        int rank = inputShape.Length;
        if (gradOutput.Length == 0 || gx.Length == 0) return gx;
        if (rank == 0) { gx.Data[0] = gradOutput.Data[0]; return gx; }
        var strides = Strided.Strides(inputShape);
        int inner = outShape[rank - 1];
        int rows = gradOutput.Length / inner;
        var last = maps[rank - 1];
        FindRun(last, out int runStart, out int runEnd);
        var g = gradOutput.Data; var dst = gx.Data;
        void Body(int start, int end)
        {
            for (int row = start; row < end; row++)
            {
                long srcRow = RowSource(row, outShape, maps, strides);
                if (srcRow < 0) continue;
                var gs = g.AsSpan(row * inner, inner);
                for (int o = 0; o < runStart; o++) if (last[o] >= 0) dst[srcRow + last[o]] += gs[o];
                if (runEnd > runStart)
                    Strided.AddRun(gs[runStart..runEnd], dst.AsSpan((int)(srcRow + last[runStart]), runEnd - runStart));
                for (int o = runEnd; o < inner; o++) if (last[o] >= 0) dst[srcRow + last[o]] += gs[o];
            }
        }
        // Constant padding maps output rows one-to-one onto input rows, so rows can run in parallel;
        // reflect/edge rows may share an input row and accumulate on one thread.
        if (mode == PadMode.Constant && gradOutput.Length >= 1 << 16) Work.For(rows, Math.Max(1, (1 << 15) / inner), Body);
        else Body(0, rows);
        return gx;
    }

    /// <summary>Output shape of ONNX <c>Pad</c> (see <see cref="Pad{T}"/>).</summary>
    public static int[] PadShape(ReadOnlySpan<int> shape, ReadOnlySpan<long> pads, ReadOnlySpan<long> axes = default)
    {
        ResolvePads(shape, pads, axes, out var begin, out var end);
        var r = new int[shape.Length];
        for (int k = 0; k < r.Length; k++) r[k] = (int)(shape[k] + begin[k] + end[k]);
        return r;
    }

    private static void ResolvePads(ReadOnlySpan<int> shape, ReadOnlySpan<long> pads, ReadOnlySpan<long> axes,
        out long[] begin, out long[] end)
    {
        const string op = "Pad";
        int rank = shape.Length;
        int n = axes.IsEmpty ? rank : axes.Length;
        Check.That(pads.Length == 2 * n, op, "pads",
            $"{2 * n} entries (begins then ends for {(axes.IsEmpty ? $"each of the {rank} axes" : $"the {n} listed axes")})",
            $"{pads.Length} entries {Format(pads)}");
        begin = new long[rank];
        end = new long[rank];
        var used = new bool[rank];
        for (int i = 0; i < n; i++)
        {
            int k = axes.IsEmpty ? i : NormalizeAxis(op, "axes", axes[i], rank);
            Check.That(!used[k], op, "axes", "distinct axes", Format(axes));
            used[k] = true;
            begin[k] = pads[i];
            end[k] = pads[n + i];
            long size = shape[k] + begin[k] + end[k];
            Check.That(size >= 0 && size <= int.MaxValue, op, "pads",
                $"a non-negative padded size on axis {k} (dimension {shape[k]})", $"{shape[k]} + {begin[k]} + {end[k]} = {size}");
        }
    }

    /// <summary>Per axis: output index → input index, or −1 for a constant-filled position.</summary>
    private static int[][] PadMaps(ReadOnlySpan<int> shape, ReadOnlySpan<long> pads, PadMode mode, ReadOnlySpan<long> axes, out int[] outShape)
    {
        ResolvePads(shape, pads, axes, out var begin, out var end);
        int rank = shape.Length;
        outShape = new int[rank];
        var maps = new int[rank][];
        for (int k = 0; k < rank; k++)
        {
            int d = shape[k];
            int n = (int)(d + begin[k] + end[k]);
            outShape[k] = n;
            var m = new int[n];
            for (int o = 0; o < n; o++)
            {
                long i = o - begin[k];
                if (i >= 0 && i < d) { m[o] = (int)i; continue; }
                if (mode != PadMode.Constant)
                    Check.That(d > 0, "Pad", "data", $"a non-empty axis {k} to {(mode == PadMode.Edge ? "copy the edge of" : "reflect")}",
                        $"shape {Shapes.Format(shape)}");
                m[o] = mode switch
                {
                    PadMode.Edge => (int)Math.Clamp(i, 0, d - 1),
                    PadMode.Reflect => Reflect(i, d),
                    _ => -1,
                };
            }
            maps[k] = m;
        }
        return maps;
    }

    private static int Reflect(long i, int d)
    {
        if (d == 1) return 0;
        long period = 2L * (d - 1);
        long m = i % period;
        if (m < 0) m += period;
        return (int)(m < d ? m : period - m);
    }

    /// <summary>The longest stretch where the map reads consecutive input indices (the copied interior).</summary>
    private static void FindRun(int[] map, out int start, out int end)
    {
        start = 0; end = 0;
        int bestLen = 0;
        for (int o = 0; o < map.Length;)
        {
            if (map[o] < 0) { o++; continue; }
            int e = o + 1;
            while (e < map.Length && map[e] == map[e - 1] + 1) e++;
            if (e - o > bestLen) { bestLen = e - o; start = o; end = e; }
            o = e;
        }
    }

    /// <summary>Input offset of the row feeding output row <paramref name="row"/>, or −1 when a constant border covers it.</summary>
    private static long RowSource(int row, int[] outShape, int[][] maps, long[] strides)
    {
        int rank = outShape.Length;
        long rem = row, off = 0;
        for (int k = rank - 2; k >= 0; k--)
        {
            int o = (int)(rem % outShape[k]);
            rem /= outShape[k];
            int i = maps[k][o];
            if (i < 0) return -1;
            off += i * strides[k];
        }
        return off;
    }
}
