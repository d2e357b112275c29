namespace QuantSharp.Engine;

public static partial class TensorOps
{
    /// <summary>A tensor of <paramref name="shape"/> with every element <paramref name="value"/> (ONNX <c>ConstantOfShape</c>).</summary>
    public static Tensor<T> Fill<T>(T value, params int[] shape) where T : unmanaged
    {
        foreach (int d in shape) Check.That(d >= 0, "ConstantOfShape", "shape", "non-negative dimensions", Shapes.Format(shape));
        var t = new Tensor<T>(shape);
        t.AsSpan().Fill(value);
        return t;
    }

    /// <summary>ONNX <c>ConstantOfShape</c>: the shape comes as a 1-D int64 tensor (empty = a scalar).</summary>
    public static Tensor<T> ConstantOfShape<T>(Tensor<long> shape, T value = default) where T : unmanaged
    {
        Check.That(shape.Rank == 1, "ConstantOfShape", "input", "a 1-D shape tensor", $"shape {Shapes.Format(shape.Dims)}");
        var s = new int[shape.Length];
        for (int i = 0; i < s.Length; i++)
        {
            long d = shape.Data[i];
            Check.That(d >= 0 && d <= int.MaxValue, "ConstantOfShape", "input", "non-negative dimensions", Format(shape.Data));
            s[i] = (int)d;
        }
        return Fill(value, s);
    }

    /// <summary>
    /// ONNX <c>Range</c> for floats: <c>n = max(⌈(limit − start)/delta⌉, 0)</c> elements <c>start + i·delta</c>.
    /// </summary>
    /// <remarks>
    /// The count divides the float difference in double precision (as ONNX Runtime does); elements follow the ONNX
    /// spec's <c>start + i·delta</c> (not a running sum, which drifts).
    /// </remarks>
    public static Tensor<float> Range(float start, float limit, float delta)
    {
        int n = RangeCount(Math.Ceiling((double)(limit - start) / delta), delta == 0);
        var r = new float[n];
        for (int i = 0; i < n; i++) r[i] = start + i * delta;
        return new Tensor<float>(r, n);
    }

    /// <summary>ONNX <c>Range</c> for doubles (see <see cref="Range(float, float, float)"/>).</summary>
    public static Tensor<double> Range(double start, double limit, double delta)
    {
        int n = RangeCount(Math.Ceiling((limit - start) / delta), delta == 0);
        var r = new double[n];
        for (int i = 0; i < n; i++) r[i] = start + i * delta;
        return new Tensor<double>(r, n);
    }

    /// <summary>ONNX <c>Range</c> for int32 (see <see cref="Range(long, long, long)"/>).</summary>
    public static Tensor<int> Range(int start, int limit, int delta)
    {
        var l = Range((long)start, limit, delta);
        var r = new int[l.Length];
        for (int i = 0; i < r.Length; i++) r[i] = (int)l.Data[i];
        return new Tensor<int>(r, r.Length);
    }

    /// <summary>ONNX <c>Range</c> for int64: <c>n = max(⌈(limit − start)/delta⌉, 0)</c> elements <c>start + i·delta</c>, exact integer arithmetic.</summary>
    public static Tensor<long> Range(long start, long limit, long delta)
    {
        Check.That(delta != 0, "Range", "delta", "a non-zero step", "0");
        Int128 span = (Int128)limit - start;
        Int128 count = delta > 0 ? (span + delta - 1) / delta : (span + delta + 1) / delta;
        if (span == 0) count = 0;
        int n = RangeCount((double)count, false);
        var r = new long[n];
        for (int i = 0; i < n; i++) r[i] = start + i * delta;
        return new Tensor<long>(r, n);
    }

    private static int RangeCount(double count, bool zeroDelta)
    {
        Check.That(!zeroDelta, "Range", "delta", "a non-zero step", "0");
        Check.That(!double.IsNaN(count) && count <= int.MaxValue, "Range", "limit",
            $"at most {int.MaxValue} elements", double.IsNaN(count) ? "NaN" : count.ToString("R"));
        return count <= 0 ? 0 : (int)count;
    }
}
