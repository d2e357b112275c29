namespace QuantSharp.Engine;

public static partial class TensorOps
{
    /// <summary>
    /// ONNX <c>Expand</c>: broadcasts <paramref name="x"/> to the numpy (bidirectional) broadcast of its shape and
    /// <paramref name="shape"/>, so a 1 in <paramref name="shape"/> keeps the input's dimension and either side may have lower rank.
    /// </summary>
    /// <remarks><c>y[i] = x[i with broadcast axes set to 0]</c>; broadcast runs are fills, others run copies.</remarks>
    public static Tensor<T> Expand<T>(Tensor<T> x, ReadOnlySpan<long> shape) where T : unmanaged
    {
        var outShape = ExpandShape(x.Dims, shape);
        var y = new Tensor<T>(outShape);
        if (y.Length == 0) return y;
        Strided.Copy(x.Data, 0, BroadcastStridesLong(x.Dims, outShape), y.Data, 0, Strided.Strides(outShape), outShape);
        return y;
    }

    /// <summary>Output shape of ONNX <c>Expand</c>: the broadcast of <paramref name="input"/> and <paramref name="shape"/>.</summary>
    public static int[] ExpandShape(ReadOnlySpan<int> input, ReadOnlySpan<long> shape)
    {
        var s = new int[shape.Length];
        for (int i = 0; i < s.Length; i++)
        {
            Check.That(shape[i] >= 0 && shape[i] <= int.MaxValue, "Expand", "shape", "non-negative dimensions", Format(shape));
            s[i] = (int)shape[i];
        }
        return Shapes.Broadcast(input, s, "Expand");
    }

    /// <summary>
    /// Gradient of a broadcast (ONNX <c>Expand</c>, and of any broadcasting elementwise op): sums
    /// <paramref name="gradOutput"/> over the axes along which <paramref name="inputShape"/> was broadcast, giving a
    /// tensor of <paramref name="inputShape"/>.
    /// </summary>
    /// <remarks><c>gx[j] = Σ over i that broadcast to j of gy[i]</c>: leading extra axes and size-1 axes are reduced.</remarks>
    public static Tensor<float> ExpandBackward(Tensor<float> gradOutput, ReadOnlySpan<int> inputShape)
    {
        var outShape = gradOutput.Dims;
        var check = Shapes.Broadcast(inputShape, outShape, "ExpandBackward");
        Check.SameShape("ExpandBackward", "gradOutput", check, outShape);
        var gx = new Tensor<float>(inputShape);
        if (gradOutput.Length == 0 || gx.Length == 0) return gx;
        Strided.Accumulate(gradOutput.Data, 0, Strided.Strides(outShape), gx.Data, 0, BroadcastStridesLong(inputShape, outShape), outShape);
        return gx;
    }

    /// <summary>
    /// ONNX <c>Tile</c>: repeats <paramref name="x"/> <c>repeats[k]</c> times along each axis k
    /// (output dimension d_k·repeats_k; <c>y[i] = x[i mod d]</c> per axis).
    /// </summary>
    public static Tensor<T> Tile<T>(Tensor<T> x, ReadOnlySpan<long> repeats) where T : unmanaged
    {
        var outShape = TileShape(x.Dims, repeats);
        var y = new Tensor<T>(outShape);
        if (y.Length == 0) return y;
        TileView(x.Dims, repeats, out var view, out var srcStrides);
        Strided.Copy(x.Data, 0, srcStrides, y.Data, 0, Strided.Strides(view), view);
        return y;
    }

    /// <summary>Gradient of <see cref="Tile{T}"/>: the sum of <paramref name="gradOutput"/> over all tiles, shaped like the input.</summary>
    public static Tensor<float> TileBackward(Tensor<float> gradOutput, ReadOnlySpan<int> inputShape, ReadOnlySpan<long> repeats)
    {
        Check.SameShape("TileBackward", "gradOutput", TileShape(inputShape, repeats), gradOutput.Dims);
        var gx = new Tensor<float>(inputShape);
        if (gradOutput.Length == 0 || gx.Length == 0) return gx;
        TileView(inputShape, repeats, out var view, out var inStrides);
        Strided.Accumulate(gradOutput.Data, 0, Strided.Strides(view), gx.Data, 0, inStrides, view);
        return gx;
    }

    /// <summary>Output shape of ONNX <c>Tile</c>.</summary>
    public static int[] TileShape(ReadOnlySpan<int> input, ReadOnlySpan<long> repeats)
    {
        Check.That(repeats.Length == input.Length, "Tile", "repeats", $"{input.Length} entries (the input rank)", $"{repeats.Length} entries {Format(repeats)}");
        var r = new int[input.Length];
        for (int k = 0; k < r.Length; k++)
        {
            Check.That(repeats[k] >= 0, "Tile", "repeats", "non-negative repeats", Format(repeats));
            long n = input[k] * repeats[k];
            Check.That(n <= int.MaxValue, "Tile", "repeats", $"output dimensions <= {int.MaxValue}", Format(repeats));
            r[k] = (int)n;
        }
        return r;
    }

    /// <summary>The output of Tile seen as shape [r₀, d₀, r₁, d₁, …] with input strides [0, s₀, 0, s₁, …].</summary>
    private static void TileView(ReadOnlySpan<int> input, ReadOnlySpan<long> repeats, out int[] view, out long[] inStrides)
    {
        var s = Strided.Strides(input);
        int rank = input.Length;
        view = new int[2 * rank];
        inStrides = new long[2 * rank];
        for (int k = 0; k < rank; k++)
        {
            view[2 * k] = (int)repeats[k];
            view[2 * k + 1] = input[k];
            inStrides[2 * k + 1] = s[k];
        }
    }

    private static long[] BroadcastStridesLong(ReadOnlySpan<int> shape, ReadOnlySpan<int> target)
    {
        var s = Shapes.BroadcastStrides(shape, target);
        var r = new long[s.Length];
        for (int i = 0; i < s.Length; i++) r[i] = s[i];
        return r;
    }
}
