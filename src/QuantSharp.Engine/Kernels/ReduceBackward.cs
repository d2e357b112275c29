namespace QuantSharp.Engine.Kernels;

public static partial class Reduce
{
    /// <summary>
    /// ReduceSum backward: every input element receives the gradient of its output element,
    /// gx = broadcast(gy) to <paramref name="inputShape"/> (gy in keepDims or dropped form).
    /// </summary>
    public static Tensor<float> SumBackward(Tensor<float> gy, ReadOnlySpan<int> inputShape, int[]? axes = null, bool keepDims = true)
    {
        var mask = ReducedMask("ReduceSumBackward", inputShape.Length, axes);
        return Elementwise.BroadcastTo(KeepDimsView("ReduceSumBackward", gy, inputShape, mask, keepDims), inputShape);
    }

    /// <summary>ReduceMean backward: gx = broadcast(gy) / n, n the number of elements reduced into each output.</summary>
    public static Tensor<float> MeanBackward(Tensor<float> gy, ReadOnlySpan<int> inputShape, int[]? axes = null, bool keepDims = true)
    {
        var mask = ReducedMask("ReduceMeanBackward", inputShape.Length, axes);
        long n = 1;
        for (int d = 0; d < mask.Length; d++) if (mask[d]) n *= inputShape[d];
        var g = Elementwise.BroadcastTo(KeepDimsView("ReduceMeanBackward", gy, inputShape, mask, keepDims), inputShape);
        return Elementwise.Scale(g, 1f / n, g);
    }

    /// <summary>
    /// ReduceMax backward: the whole gradient of each output goes to the FIRST input element (row-major order
    /// over the reduced axes) equal to the maximum — ties are not split, matching PyTorch's max(dim) and the
    /// index ArgMax returns. <paramref name="y"/> is the forward output (keepDims or dropped form).
    /// </summary>
    public static Tensor<float> MaxBackward(Tensor<float> x, Tensor<float> y, Tensor<float> gy, int[]? axes = null, bool keepDims = true) =>
        SelectBackward("ReduceMaxBackward", x, y, gy, axes, keepDims);

    /// <summary>ReduceMin backward: as <see cref="MaxBackward"/>, the gradient goes to the first minimal element.</summary>
    public static Tensor<float> MinBackward(Tensor<float> x, Tensor<float> y, Tensor<float> gy, int[]? axes = null, bool keepDims = true) =>
        SelectBackward("ReduceMinBackward", x, y, gy, axes, keepDims);

    private static Tensor<float> SelectBackward(string op, Tensor<float> x, Tensor<float> y, Tensor<float> gy, int[]? axes, bool keepDims)
    {
        var mask = ReducedMask(op, x.Rank, axes);
        Check.SameShape(op, "gradOutput", y.Dims, gy.Dims);
        var yk = KeepDimsView(op, y, x.Dims, mask, keepDims);
        var gk = KeepDimsView(op, gy, x.Dims, mask, keepDims);
        var strides = Shapes.BroadcastStrides(yk.Dims, x.Dims);
        var gx = new Tensor<float>(x.Dims);
        var taken = new bool[yk.Length];
        var idx = new int[x.Rank];
        int outOff = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float v = x.Data[i], m = yk.Data[outOff];
            if (!taken[outOff] && (v == m || (float.IsNaN(m) && float.IsNaN(v))))
            {
                gx.Data[i] = gk.Data[outOff];
                taken[outOff] = true;
            }
            // Row-major odometer over x, tracking the output offset.
            for (int d = x.Rank - 1; d >= 0; d--)
            {
                outOff += strides[d];
                if (++idx[d] < x.Dims[d]) break;
                outOff -= strides[d] * idx[d];
                idx[d] = 0;
            }
        }
        return gx;
    }

    /// <summary>The reduced tensor <paramref name="t"/> viewed in keepDims form (reduced axes of size 1).</summary>
    private static Tensor<float> KeepDimsView(string op, Tensor<float> t, ReadOnlySpan<int> inputShape, bool[] mask, bool keepDims)
    {
        var kept = inputShape.ToArray();
        for (int d = 0; d < kept.Length; d++) if (mask[d]) kept[d] = 1;
        var expected = keepDims ? kept : DroppedShape(inputShape, mask);
        Check.SameShape(op, "gradOutput", expected, t.Dims);
        return t.Reshape(kept);
    }
}
