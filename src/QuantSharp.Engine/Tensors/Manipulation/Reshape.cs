namespace QuantSharp.Engine;

/// <summary>
/// Tensor manipulation ops with ONNX (opset 13+) semantics, generic over the element type:
/// reshaping views, transposes, slicing, concatenation, padding, gathers, broadcasting, casts and
/// constant generators, plus the tensor-level backward kernels the gradient rules call.
/// </summary>
public static partial class TensorOps
{
    /// <summary>
    /// ONNX <c>Reshape</c>: a view of <paramref name="x"/> (data shared, not copied) with the requested shape.
    /// </summary>
    /// <remarks>
    /// Each entry of <paramref name="shape"/> is a size, or 0 = copy the input's dimension at the same
    /// index (unless <paramref name="allowZero"/>, when 0 is a literal zero), or -1 = inferred so that the
    /// element count is unchanged (at most one -1, and not together with a literal 0).
    /// </remarks>
    public static Tensor<T> Reshape<T>(Tensor<T> x, ReadOnlySpan<long> shape, bool allowZero = false) where T : unmanaged
        => new(x.Data, ReshapeShape(x.Dims, shape, allowZero));

    /// <summary>Output shape of ONNX <c>Reshape</c> of an input of <paramref name="input"/> (see <see cref="Reshape{T}"/>).</summary>
    public static int[] ReshapeShape(ReadOnlySpan<int> input, ReadOnlySpan<long> shape, bool allowZero = false)
    {
        const string op = "Reshape";
        var r = new int[shape.Length];
        int infer = -1;
        long known = 1;
        bool literalZero = false;
        for (int i = 0; i < shape.Length; i++)
        {
            long s = shape[i];
            if (s == -1)
            {
                Check.That(infer < 0, op, "shape", "at most one -1", Format(shape));
                infer = i;
                continue;
            }
            Check.That(s >= 0, op, "shape", "entries >= -1", Format(shape));
            if (s == 0 && !allowZero)
            {
                Check.That(i < input.Length, op, "shape",
                    $"0 (copy input dimension) only at indices below the input rank {input.Length}", Format(shape));
                s = input[i];
            }
            else if (s == 0) literalZero = true;
            Check.That(s <= int.MaxValue, op, "shape", $"dimensions <= {int.MaxValue}", Format(shape));
            r[i] = (int)s;
            known *= s;
        }
        long count = Shapes.Size(input);
        if (infer >= 0)
        {
            Check.That(!literalZero, op, "shape", "no -1 together with a literal 0 when allowzero is set", Format(shape));
            Check.That(known != 0 && count % known == 0, op, "shape",
                $"a -1 that can be inferred for {count} elements of input shape {Shapes.Format(input)}", Format(shape));
            r[infer] = (int)(count / known);
            known *= r[infer];
        }
        Check.That(known == count, op, "shape", $"{count} elements (input shape {Shapes.Format(input)})",
            $"{Format(shape)} = {Shapes.Format(r)} with {known} elements");
        return r;
    }

    /// <summary>
    /// ONNX <c>Flatten</c>: a 2-D view <c>[d₀·…·d_(axis−1), d_axis·…·d_(r−1)]</c> of <paramref name="x"/> (data shared).
    /// </summary>
    /// <param name="axis">In [-r, r]; negative counts from the end. Axis 0 gives <c>[1, N]</c>.</param>
    public static Tensor<T> Flatten<T>(Tensor<T> x, int axis = 1) where T : unmanaged
    {
        int rank = x.Rank;
        Check.That(axis >= -rank && axis <= rank, "Flatten", "axis", $"an axis in [{-rank}, {rank}]", axis.ToString());
        if (axis < 0) axis += rank;
        int outer = Shapes.Size(x.Dims[..axis]);
        return new Tensor<T>(x.Data, outer, outer == 0 ? Shapes.Size(x.Dims[axis..]) : x.Length / outer);
    }

    /// <summary>
    /// ONNX <c>Squeeze</c>: a view of <paramref name="x"/> without the listed size-1 axes (all size-1 axes when
    /// <paramref name="axes"/> is null). Negative axes count from the end.
    /// </summary>
    public static Tensor<T> Squeeze<T>(Tensor<T> x, int[]? axes = null) where T : unmanaged
        => new(x.Data, SqueezeShape(x.Dims, axes));

    /// <summary>Output shape of ONNX <c>Squeeze</c> (see <see cref="Squeeze{T}"/>).</summary>
    public static int[] SqueezeShape(ReadOnlySpan<int> input, int[]? axes)
    {
        var drop = new bool[input.Length];
        if (axes is null)
            for (int i = 0; i < input.Length; i++) drop[i] = input[i] == 1;
        else
            foreach (int a in axes)
            {
                int k = NormalizeAxis("Squeeze", "axes", a, input.Length);
                Check.That(!drop[k], "Squeeze", "axes", "distinct axes", Format(axes));
                Check.That(input[k] == 1, "Squeeze", "axes", $"axes of size 1 (input shape {Shapes.Format(input)})",
                    $"axis {a} of size {input[k]}");
                drop[k] = true;
            }
        var r = new List<int>(input.Length);
        for (int i = 0; i < input.Length; i++) if (!drop[i]) r.Add(input[i]);
        return r.ToArray();
    }

    /// <summary>
    /// ONNX <c>Unsqueeze</c>: a view of <paramref name="x"/> with size-1 axes inserted at <paramref name="axes"/>,
    /// which index the output (rank r + len(axes)); negative axes count from the output's end.
    /// </summary>
    public static Tensor<T> Unsqueeze<T>(Tensor<T> x, params int[] axes) where T : unmanaged
        => new(x.Data, UnsqueezeShape(x.Dims, axes));

    /// <summary>Output shape of ONNX <c>Unsqueeze</c> (see <see cref="Unsqueeze{T}"/>).</summary>
    public static int[] UnsqueezeShape(ReadOnlySpan<int> input, int[] axes)
    {
        int rank = input.Length + axes.Length;
        var insert = new bool[rank];
        foreach (int a in axes)
        {
            int k = NormalizeAxis("Unsqueeze", "axes", a, rank);
            Check.That(!insert[k], "Unsqueeze", "axes", "distinct axes", Format(axes));
            insert[k] = true;
        }
        var r = new int[rank];
        for (int i = 0, j = 0; i < rank; i++) r[i] = insert[i] ? 1 : input[j++];
        return r;
    }

    /// <summary>
    /// ONNX <c>Shape</c>: the dimensions of <paramref name="x"/> as a 1-D long tensor, optionally only
    /// <c>dims[start:end]</c> (opset 15; negative values count from the end, both are clamped to [0, r]).
    /// </summary>
    public static Tensor<long> Shape(Tensor x, int start = 0, int? end = null)
    {
        int rank = x.Rank;
        int s = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
        int e = end is int ev ? Math.Clamp(ev < 0 ? ev + rank : ev, 0, rank) : rank;
        int n = Math.Max(0, e - s);
        var r = new long[n];
        for (int i = 0; i < n; i++) r[i] = x.Dims[s + i];
        return new Tensor<long>(r, n);
    }

    /// <summary>ONNX <c>Size</c>: the element count of <paramref name="x"/> as a rank-0 long tensor.</summary>
    public static Tensor<long> Size(Tensor x) => Tensor.Scalar((long)x.Length);

    /// <summary>Normalizes an axis in [-rank, rank) or throws a <see cref="ShapeException"/> naming op and argument.</summary>
    internal static int NormalizeAxis(string op, string arg, long axis, int rank)
    {
        Check.That(axis >= -rank && axis < rank, op, arg, $"an axis in [{-rank}, {rank - 1}]", axis.ToString());
        return (int)(axis < 0 ? axis + rank : axis);
    }

    internal static string Format(ReadOnlySpan<long> v) => "[" + string.Join(",", v.ToArray()) + "]";

    internal static string Format(ReadOnlySpan<int> v) => Shapes.Format(v);
}
