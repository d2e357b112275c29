namespace QuantSharp.Engine;

/// <summary>Shape arithmetic: element counts, row-major strides, numpy broadcasting, formatting.</summary>
public static class Shapes
{
    /// <summary>Number of elements of a tensor of shape <paramref name="shape"/> (1 for a scalar).</summary>
    public static int Size(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ShapeException($"Shape: dimension expected >= 0, got {d} in {Format(shape)}");
            n *= d;
        }
        if (n > int.MaxValue) throw new ShapeException($"Shape: expected at most {int.MaxValue} elements, got {n} for {Format(shape)}");
        return (int)n;
    }

    /// <summary>Row-major (C order) strides in elements.</summary>
    public static int[] Strides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    /// <summary>The numpy broadcast of two shapes; throws naming <paramref name="op"/> when they do not broadcast.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op = "Broadcast")
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ShapeException($"{op}: shapes {Format(a)} and {Format(b)} expected to broadcast, but dimension {i} is {da} vs {db}");
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    /// <summary>
    /// Strides of <paramref name="shape"/> viewed as the broadcast shape <paramref name="target"/>:
    /// broadcast (size-1 or missing) dimensions get stride 0.
    /// </summary>
    public static int[] BroadcastStrides(ReadOnlySpan<int> shape, ReadOnlySpan<int> target)
    {
        var own = Strides(shape);
        var s = new int[target.Length];
        int off = target.Length - shape.Length;
        for (int i = 0; i < target.Length; i++)
        {
            int j = i - off;
            s[i] = j < 0 || shape[j] == 1 ? 0 : own[j];
        }
        return s;
    }

    /// <summary>Formats a shape as <c>[2,3,4]</c>.</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";
}
