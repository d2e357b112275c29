namespace QuantSharp.Engine;

/// <summary>
/// Plain scalar specifications of the manipulation ops: one output element at a time, full multi-index
/// arithmetic, no blocking or run copies. Tests check the fast paths in <see cref="TensorOps"/> against them bit for bit.
/// </summary>
public static class TensorOpsReference
{
    /// <summary>Transpose: <c>y[i] = x[j]</c> with <c>j[perm[k]] = i[k]</c>; null perm reverses the axes.</summary>
    public static Tensor<T> Transpose<T>(Tensor<T> x, int[]? perm = null) where T : unmanaged
    {
        int rank = x.Rank;
        var p = perm ?? Enumerable.Range(0, rank).Reverse().ToArray();
        var outShape = new int[rank];
        for (int k = 0; k < rank; k++) outShape[k] = x.Dims[p[k]];
        var xs = Shapes.Strides(x.Dims);
        return Map(x, outShape, i =>
        {
            long off = 0;
            for (int k = 0; k < rank; k++) off += (long)i[k] * xs[p[k]];
            return off;
        });
    }

    /// <summary>Slice from resolved axes: <c>y[i] = x[j]</c> with <c>j[axis] = start + i[axis]·step</c>.</summary>
    public static Tensor<T> Slice<T>(Tensor<T> x, SliceAxis[] plan) where T : unmanaged
    {
        var outShape = x.Shape;
        var start = new int[x.Rank];
        var step = Enumerable.Repeat(1, x.Rank).ToArray();
        foreach (var a in plan) { outShape[a.Axis] = a.Count; start[a.Axis] = a.Start; step[a.Axis] = a.Step; }
        var xs = Shapes.Strides(x.Dims);
        return Map(x, outShape, i =>
        {
            long off = 0;
            for (int k = 0; k < i.Length; k++) off += (long)(start[k] + i[k] * step[k]) * xs[k];
            return off;
        });
    }

    /// <summary>Expand: <c>y[i] = x[i with broadcast axes at 0]</c>.</summary>
    public static Tensor<T> Expand<T>(Tensor<T> x, int[] outShape) where T : unmanaged
    {
        var bs = Shapes.BroadcastStrides(x.Dims, outShape);
        return Map(x, outShape, i =>
        {
            long off = 0;
            for (int k = 0; k < i.Length; k++) off += (long)i[k] * bs[k];
            return off;
        });
    }

    /// <summary>Tile: <c>y[i] = x[i mod d]</c> per axis.</summary>
    public static Tensor<T> Tile<T>(Tensor<T> x, int[] repeats) where T : unmanaged
    {
        var outShape = new int[x.Rank];
        for (int k = 0; k < x.Rank; k++) outShape[k] = x.Dims[k] * repeats[k];
        var xs = Shapes.Strides(x.Dims);
        var d = x.Shape;
        return Map(x, outShape, i =>
        {
            long off = 0;
            for (int k = 0; k < i.Length; k++) off += (long)(i[k] % d[k]) * xs[k];
            return off;
        });
    }

    /// <summary>Pad with begins/ends per axis (negative crops): <c>y[i] = x[map(i − begin)]</c> or the constant.</summary>
    public static Tensor<T> Pad<T>(Tensor<T> x, int[] begin, int[] end, PadMode mode, T value) where T : unmanaged
    {
        int rank = x.Rank;
        var outShape = new int[rank];
        for (int k = 0; k < rank; k++) outShape[k] = x.Dims[k] + begin[k] + end[k];
        var xs = Shapes.Strides(x.Dims);
        var d = x.Shape;
        var y = new Tensor<T>(outShape);
        var idx = new int[rank];
        for (int e = 0; e < y.Length; e++)
        {
            long off = 0;
            bool constant = false;
            for (int k = 0; k < rank; k++)
            {
                int j = idx[k] - begin[k];
                if (j < 0 || j >= d[k])
                {
                    if (mode == PadMode.Constant) { constant = true; break; }
                    if (mode == PadMode.Edge) j = Math.Clamp(j, 0, d[k] - 1);
                    else
                    {
                        // Reflect by walking: bounce off both ends until inside.
                        while (j < 0 || j >= d[k])
                        {
                            if (d[k] == 1) { j = 0; break; }
                            j = j < 0 ? -j : 2 * (d[k] - 1) - j;
                        }
                    }
                }
                off += (long)j * xs[k];
            }
            y.Data[e] = constant ? value : x.Data[off];
            Next(idx, outShape);
        }
        return y;
    }

    /// <summary>Gather along <paramref name="axis"/> with int64 indices (negative counts from the end).</summary>
    public static Tensor<T> Gather<T>(Tensor<T> x, long[] indices, int[] indicesShape, int axis) where T : unmanaged
    {
        var outShape = TensorOps.GatherShape(x.Dims, indicesShape, axis);
        var xs = Shapes.Strides(x.Dims);
        var isr = Shapes.Strides(indicesShape);
        int q = indicesShape.Length, d = x.Dims[axis];
        return Map(x, outShape, i =>
        {
            long off = 0;
            for (int k = 0; k < axis; k++) off += (long)i[k] * xs[k];
            long flat = 0;
            for (int k = 0; k < q; k++) flat += (long)i[axis + k] * isr[k];
            long v = indices[flat];
            off += (v < 0 ? v + d : v) * xs[axis];
            for (int k = axis + 1; k < x.Rank; k++) off += (long)i[q + k - 1] * xs[k];
            return off;
        });
    }

    private static Tensor<T> Map<T>(Tensor<T> x, int[] outShape, Func<int[], long> source) where T : unmanaged
    {
        var y = new Tensor<T>(outShape);
        var idx = new int[outShape.Length];
        for (int e = 0; e < y.Length; e++)
        {
            y.Data[e] = x.Data[source(idx)];
            Next(idx, outShape);
        }
        return y;
    }

    private static void Next(int[] idx, int[] shape)
    {
        for (int k = shape.Length - 1; k >= 0; k--)
        {
            if (++idx[k] < shape[k]) return;
            idx[k] = 0;
        }
    }
}
