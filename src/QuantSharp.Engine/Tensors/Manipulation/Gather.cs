using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine;

public static partial class TensorOps
{
    /// <summary>
    /// ONNX <c>Gather</c>: picks slices of <paramref name="data"/> along <paramref name="axis"/> by <paramref name="indices"/>.
    /// </summary>
    /// <remarks>
    /// Output shape = <c>data.shape[:axis] + indices.shape + data.shape[axis+1:]</c> and
    /// <c>y[o, j…, i] = data[o, idx[j…], i]</c>, where a negative index counts from the end (idx + d). Indices
    /// are int32 or int64 tensors; any outside [−d, d−1] throws. Each picked slice is one contiguous run copy.
    /// </remarks>
    public static Tensor<T> Gather<T>(Tensor<T> data, Tensor indices, int axis = 0) where T : unmanaged
    {
        int ax = NormalizeAxis("Gather", "axis", axis, data.Rank);
        var idx = ReadIndices("Gather", indices, data.Dims[ax], ax);
        var outShape = GatherShape(data.Dims, indices.Dims, ax);
        var y = new Tensor<T>(outShape);
        if (y.Length == 0) return y;
        int outer = Shapes.Size(data.Dims[..ax]);
        int inner = Shapes.Size(data.Dims[(ax + 1)..]);
        int d = data.Dims[ax], n = idx.Length;
        var src = data.Data; var dst = y.Data;
        void Body(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                int o = r / n, j = r % n;
                src.AsSpan((o * d + idx[j]) * inner, inner).CopyTo(dst.AsSpan(r * inner, inner));
            }
        }
        int rows = outer * n;
        if (y.Length >= 1 << 16) Work.For(rows, Math.Max(1, (1 << 15) / inner), Body);
        else Body(0, rows);
        return y;
    }

    /// <summary>
    /// Gradient of <see cref="Gather{T}"/> with respect to data: zeros of <paramref name="dataShape"/> into which each
    /// slice of <paramref name="gradOutput"/> is added at the position it was gathered from (repeated indices accumulate).
    /// </summary>
    public static Tensor<float> GatherBackward(Tensor<float> gradOutput, ReadOnlySpan<int> dataShape, Tensor indices, int axis = 0)
    {
        int ax = NormalizeAxis("GatherBackward", "axis", axis, dataShape.Length);
        var idx = ReadIndices("GatherBackward", indices, dataShape[ax], ax);
        Check.SameShape("GatherBackward", "gradOutput", GatherShape(dataShape, indices.Dims, ax), gradOutput.Dims);
        var gx = new Tensor<float>(dataShape);
        if (gradOutput.Length == 0) return gx;
        int outer = Shapes.Size(dataShape[..ax]);
        int inner = Shapes.Size(dataShape[(ax + 1)..]);
        int d = dataShape[ax], n = idx.Length;
        var g = gradOutput.Data; var dst = gx.Data;
        // Outer blocks write disjoint parts of gx, so they run in parallel; within one, repeated indices add up.
        void Body(int start, int end)
        {
            for (int o = start; o < end; o++)
                for (int j = 0; j < n; j++)
                    Strided.AddRun(g.AsSpan((o * n + j) * inner, inner), dst.AsSpan((o * d + idx[j]) * inner, inner));
        }
        if (gradOutput.Length >= 1 << 16) Work.For(outer, Math.Max(1, (1 << 15) / Math.Max(1, n * inner)), Body);
        else Body(0, outer);
        return gx;
    }

    /// <summary>Output shape of ONNX <c>Gather</c>: <c>data[:axis] + indices + data[axis+1:]</c> (axis already normalized).</summary>
    public static int[] GatherShape(ReadOnlySpan<int> data, ReadOnlySpan<int> indices, int axis)
    {
        var r = new int[data.Length - 1 + indices.Length];
        data[..axis].CopyTo(r);
        indices.CopyTo(r.AsSpan(axis));
        data[(axis + 1)..].CopyTo(r.AsSpan(axis + indices.Length));
        return r;
    }

    /// <summary>
    /// ONNX <c>GatherElements</c>: <c>y</c> has the shape of <paramref name="indices"/> and
    /// <c>y[i₀,…,i_(r−1)] = data[i₀,…, idx[i₀,…,i_(r−1)] at position axis, …,i_(r−1)]</c>; negative indices count from the end.
    /// </summary>
    public static Tensor<T> GatherElements<T>(Tensor<T> data, Tensor indices, int axis = 0) where T : unmanaged
    {
        const string op = "GatherElements";
        int rank = data.Rank;
        int ax = NormalizeAxis(op, "axis", axis, rank);
        Check.That(indices.Rank == rank, op, "indices", $"rank {rank} (the rank of data {Shapes.Format(data.Dims)})",
            $"shape {Shapes.Format(indices.Dims)} (rank {indices.Rank})");
        for (int k = 0; k < rank; k++)
            Check.That(k == ax || indices.Dims[k] <= data.Dims[k], op, "indices",
                $"dimensions no larger than data {Shapes.Format(data.Dims)} off axis {ax}", Shapes.Format(indices.Dims));
        var idx = ReadIndices(op, indices, data.Dims[ax], ax);
        var y = new Tensor<T>(indices.Dims);
        var ds = Shapes.Strides(data.Dims);
        var pos = new int[rank];
        for (int e = 0; e < idx.Length; e++)
        {
            long off = 0;
            for (int k = 0; k < rank; k++) off += (long)(k == ax ? idx[e] : pos[k]) * ds[k];
            y.Data[e] = data.Data[off];
            for (int k = rank - 1; k >= 0; k--)
            {
                if (++pos[k] < indices.Dims[k]) break;
                pos[k] = 0;
            }
        }
        return y;
    }

    /// <summary>Reads int32/int64 indices into ints in [0, d), adding d to negative ones; throws naming the bad value.</summary>
    internal static int[] ReadIndices(string op, Tensor indices, int d, int axis)
    {
        var r = new int[indices.Length];
        switch (indices)
        {
            case Tensor<int> ti:
                for (int i = 0; i < r.Length; i++) r[i] = NormalizeIndex(op, ti.Data[i], d, axis, i);
                break;
            case Tensor<long> tl:
                for (int i = 0; i < r.Length; i++) r[i] = NormalizeIndex(op, tl.Data[i], d, axis, i);
                break;
            default:
                throw new ShapeException($"{op}: argument 'indices' expected element type Int32 or Int64, got {indices.DataType}");
        }
        return r;
    }

    private static int NormalizeIndex(string op, long v, int d, int axis, int position)
    {
        if (v < -d || v >= d)
            throw new ShapeException($"{op}: argument 'indices' expected values in [{-d}, {d - 1}] (dimension of axis {axis}), got {v} at flat position {position}");
        return (int)(v < 0 ? v + d : v);
    }
}
