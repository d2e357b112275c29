using AG = QuantSharp.Engine.Autograd.Autograd;

namespace QuantSharp.Engine.Autograd;

/// <summary>
/// Differentiable ops on <see cref="Variable"/>s. Each computes its output with the tensor kernels and records
/// a backward rule that calls the tensor-level backward kernels (the one set of gradient rules).
/// </summary>
public static partial class Ops
{
    /// <summary>ONNX <c>Reshape</c> (see <see cref="TensorOps.Reshape{T}"/>); the gradient is reshaped back.</summary>
    public static Variable Reshape(Variable x, ReadOnlySpan<long> shape, bool allowZero = false)
    {
        var inShape = x.Shape;
        var y = TensorOps.Reshape(x.Data, shape, allowZero);
        return AG.Record("Reshape", y, [x], g => [new Tensor<float>(g.Data, inShape)]);
    }

    /// <summary>ONNX <c>Flatten</c> (see <see cref="TensorOps.Flatten{T}"/>); the gradient is reshaped back.</summary>
    public static Variable Flatten(Variable x, int axis = 1)
    {
        var inShape = x.Shape;
        return AG.Record("Flatten", TensorOps.Flatten(x.Data, axis), [x], g => [new Tensor<float>(g.Data, inShape)]);
    }

    /// <summary>ONNX <c>Squeeze</c> (see <see cref="TensorOps.Squeeze{T}"/>); the gradient is reshaped back.</summary>
    public static Variable Squeeze(Variable x, int[]? axes = null)
    {
        var inShape = x.Shape;
        return AG.Record("Squeeze", TensorOps.Squeeze(x.Data, axes), [x], g => [new Tensor<float>(g.Data, inShape)]);
    }

    /// <summary>ONNX <c>Unsqueeze</c> (see <see cref="TensorOps.Unsqueeze{T}"/>); the gradient is reshaped back.</summary>
    public static Variable Unsqueeze(Variable x, params int[] axes)
    {
        var inShape = x.Shape;
        return AG.Record("Unsqueeze", TensorOps.Unsqueeze(x.Data, axes), [x], g => [new Tensor<float>(g.Data, inShape)]);
    }

    /// <summary>ONNX <c>Transpose</c>; the gradient is transposed by the inverse permutation.</summary>
    public static Variable Transpose(Variable x, int[]? perm = null)
    {
        var p = TensorOps.CheckPerm(perm, x.Data.Rank);
        var inv = TensorOps.InversePermutation(p);
        return AG.Record("Transpose", TensorOps.Transpose(x.Data, p), [x], g => [TensorOps.Transpose(g, inv)]);
    }

    /// <summary>ONNX <c>Slice</c>; the gradient scatters into zeros (<see cref="TensorOps.SliceBackward"/>).</summary>
    public static Variable Slice(Variable x, long[] starts, long[] ends, long[]? axes = null, long[]? steps = null)
    {
        var inShape = x.Shape;
        var y = TensorOps.Slice(x.Data, starts, ends, axes, steps);
        return AG.Record("Slice", y, [x], g => [TensorOps.SliceBackward(g, inShape, starts, ends, axes, steps)]);
    }

    /// <summary>ONNX <c>Concat</c>; each input's gradient is its part of the output gradient (a Split).</summary>
    public static Variable Concat(IReadOnlyList<Variable> inputs, int axis)
    {
        var y = TensorOps.Concat(inputs.Select(v => v.Data).ToArray(), axis);
        int ax = axis < 0 ? axis + y.Rank : axis;
        var sizes = inputs.Select(v => (long)v.Data.Dims[ax]).ToArray();
        return AG.Record("Concat", y, inputs.ToArray(), g => TensorOps.Split(g, ax, sizes));
    }

    /// <summary>
    /// ONNX <c>Split</c> with explicit sizes; returns one variable per part. The gradient of the input is the
    /// concatenation of the parts' gradients (zeros for parts that received none).
    /// </summary>
    public static Variable[] Split(Variable x, int axis, long[] sizes)
    {
        var parts = TensorOps.Split(x.Data, axis, sizes);
        int ax = axis < 0 ? axis + x.Data.Rank : axis;
        var r = new Variable[parts.Length];
        var partShapes = parts.Select(p => p.Shape).ToArray();
        for (int i = 0; i < parts.Length; i++)
        {
            int part = i;
            // Each part records its own node; its rule places the part's gradient at its position and zeros elsewhere.
            r[i] = AG.Record("Split", parts[i], [x], g =>
            {
                var pieces = new Tensor<float>[partShapes.Length];
                for (int k = 0; k < pieces.Length; k++) pieces[k] = k == part ? g : new Tensor<float>(partShapes[k]);
                return [TensorOps.Concat(pieces, ax)];
            });
        }
        return r;
    }

    /// <summary>ONNX <c>Split</c> into <paramref name="parts"/> ceil-sized pieces (see <see cref="TensorOps.EqualSplitSizes"/>).</summary>
    public static Variable[] Split(Variable x, int axis, int parts)
    {
        int ax = TensorOps.NormalizeAxis("Split", "axis", axis, x.Data.Rank);
        return Split(x, ax, TensorOps.EqualSplitSizes(x.Data.Dims[ax], parts));
    }

    /// <summary>ONNX <c>Pad</c>; the gradient crops (constant) or accumulates mirrored/edge positions (<see cref="TensorOps.PadBackward"/>).</summary>
    public static Variable Pad(Variable x, long[] pads, PadMode mode = PadMode.Constant, float value = 0f, long[]? axes = null)
    {
        var inShape = x.Shape;
        var y = TensorOps.Pad(x.Data, pads, mode, value, axes);
        return AG.Record("Pad", y, [x], g => [TensorOps.PadBackward(g, inShape, pads, mode, axes)]);
    }

    /// <summary>ONNX <c>Gather</c>, differentiable with respect to <paramref name="data"/> (scatter-add, <see cref="TensorOps.GatherBackward"/>).</summary>
    public static Variable Gather(Variable data, Tensor indices, int axis = 0)
    {
        var inShape = data.Shape;
        var y = TensorOps.Gather(data.Data, indices, axis);
        return AG.Record("Gather", y, [data], g => [TensorOps.GatherBackward(g, inShape, indices, axis)]);
    }

    /// <summary>ONNX <c>Expand</c>; the gradient sums over the broadcast axes (<see cref="TensorOps.ExpandBackward"/>).</summary>
    public static Variable Expand(Variable x, long[] shape)
    {
        var inShape = x.Shape;
        return AG.Record("Expand", TensorOps.Expand(x.Data, shape), [x], g => [TensorOps.ExpandBackward(g, inShape)]);
    }

    /// <summary>ONNX <c>Tile</c>; the gradient sums over the tiles (<see cref="TensorOps.TileBackward"/>).</summary>
    public static Variable Tile(Variable x, long[] repeats)
    {
        var inShape = x.Shape;
        return AG.Record("Tile", TensorOps.Tile(x.Data, repeats), [x], g => [TensorOps.TileBackward(g, inShape, repeats)]);
    }
}
