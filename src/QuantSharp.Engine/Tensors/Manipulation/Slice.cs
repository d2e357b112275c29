namespace QuantSharp.Engine;

/// <summary>One resolved axis of an ONNX <c>Slice</c>: the first index, the step and the element count.</summary>
/// <param name="Axis">Input axis (non-negative).</param>
/// <param name="Start">First input index taken (after ONNX clamping).</param>
/// <param name="Step">Step between taken indices (non-zero, may be negative).</param>
/// <param name="Count">Number of indices taken (the output dimension).</param>
public readonly record struct SliceAxis(int Axis, int Start, int Step, int Count);

public static partial class TensorOps
{
    /// <summary>
    /// ONNX <c>Slice</c>: takes indices <c>start, start+step, …</c> (stopping before <c>end</c>) along each listed axis.
    /// </summary>
    /// <remarks>
    /// Per ONNX: <paramref name="axes"/> defaults to [0, …, len(starts)−1] (negative axes count from the end, no
    /// repeats); <paramref name="steps"/> defaults to 1 and must be non-zero. Negative starts/ends get the
    /// dimension d added; then for step &gt; 0 start and end are clamped to [0, d], for step &lt; 0 start to
    /// [0, d−1] and end to [−1, d−1]. The output length is ⌈(end − start)/step⌉ clamped at 0. Ends such as
    /// <c>long.MaxValue</c> / <c>long.MinValue</c> therefore mean "to the end" / "to the beginning".
    /// </remarks>
    public static Tensor<T> Slice<T>(Tensor<T> x, ReadOnlySpan<long> starts, ReadOnlySpan<long> ends,
        ReadOnlySpan<long> axes = default, ReadOnlySpan<long> steps = default) where T : unmanaged
    {
        var plan = ResolveSlice(x.Dims, starts, ends, axes, steps);
        var outShape = SliceShape(x.Dims, plan);
        var y = new Tensor<T>(outShape);
        SliceView(x.Dims, plan, out long offset, out var strides);
        Strided.Copy(x.Data, offset, strides, y.Data, 0, Strided.Strides(outShape), outShape);
        return y;
    }

    /// <summary>
    /// Gradient of <see cref="Slice{T}"/>: scatters <paramref name="gradOutput"/> into zeros of
    /// <paramref name="inputShape"/> at the sliced positions (elements not taken get gradient 0).
    /// </summary>
    public static Tensor<float> SliceBackward(Tensor<float> gradOutput, ReadOnlySpan<int> inputShape, ReadOnlySpan<long> starts,
        ReadOnlySpan<long> ends, ReadOnlySpan<long> axes = default, ReadOnlySpan<long> steps = default)
    {
        var plan = ResolveSlice(inputShape, starts, ends, axes, steps);
        var outShape = SliceShape(inputShape, plan);
        Check.SameShape("SliceBackward", "gradOutput", outShape, gradOutput.Dims);
        var gx = new Tensor<float>(inputShape);
        SliceView(inputShape, plan, out long offset, out var strides);
        Strided.Copy(gradOutput.Data, 0, Strided.Strides(outShape), gx.Data, offset, strides, outShape);
        return gx;
    }

    /// <summary>Resolves ONNX <c>Slice</c> arguments against <paramref name="shape"/> (clamping as in <see cref="Slice{T}"/>).</summary>
    public static SliceAxis[] ResolveSlice(ReadOnlySpan<int> shape, ReadOnlySpan<long> starts, ReadOnlySpan<long> ends,
        ReadOnlySpan<long> axes = default, ReadOnlySpan<long> steps = default)
    {
        const string op = "Slice";
        int n = starts.Length, rank = shape.Length;
        Check.That(ends.Length == n, op, "ends", $"{n} entries (as many as starts)", $"{ends.Length}");
        Check.That(axes.IsEmpty || axes.Length == n, op, "axes", $"{n} entries (as many as starts)", $"{axes.Length}");
        Check.That(steps.IsEmpty || steps.Length == n, op, "steps", $"{n} entries (as many as starts)", $"{steps.Length}");
        var used = new bool[rank];
        var plan = new SliceAxis[n];
        for (int i = 0; i < n; i++)
        {
            int axis = NormalizeAxis(op, "axes", axes.IsEmpty ? i : axes[i], rank);
            Check.That(!used[axis], op, "axes", "distinct axes", axes.IsEmpty ? $"{n} starts for rank {rank}" : Format(axes));
            used[axis] = true;
            long step = steps.IsEmpty ? 1 : steps[i];
            Check.That(step != 0, op, "steps", "non-zero steps", Format(steps));
            long d = shape[axis];
            long start = starts[i], end = ends[i];
            if (start < 0) start += d;
            if (end < 0) end += d;
            long count;
            if (step > 0)
            {
                start = Math.Clamp(start, 0, d);
                end = Math.Clamp(end, 0, d);
                count = end > start ? (end - start + step - 1) / step : 0;
            }
            else
            {
                start = Math.Clamp(start, 0, d - 1);
                end = Math.Clamp(end, -1, d - 1);
                count = start > end ? (start - end + (-step) - 1) / -step : 0;
            }
            if (count == 0) start = 0;
            plan[i] = new SliceAxis(axis, (int)start, (int)Math.Clamp(step, int.MinValue + 1, int.MaxValue), (int)count);
        }
        return plan;
    }

    private static int[] SliceShape(ReadOnlySpan<int> shape, SliceAxis[] plan)
    {
        var r = shape.ToArray();
        foreach (var a in plan) r[a.Axis] = a.Count;
        return r;
    }

    /// <summary>The sliced region as a strided view of the input: first element offset and per-axis strides.</summary>
    private static void SliceView(ReadOnlySpan<int> shape, SliceAxis[] plan, out long offset, out long[] strides)
    {
        var s = Strided.Strides(shape);
        strides = (long[])s.Clone();
        offset = 0;
        foreach (var a in plan)
        {
            if (a.Count == 0) continue;
            offset += a.Start * s[a.Axis];
            strides[a.Axis] = a.Step * s[a.Axis];
        }
    }
}
