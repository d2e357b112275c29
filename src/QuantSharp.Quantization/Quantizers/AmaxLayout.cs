using System.Globalization;
using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Quantization.Quantizers;

/// <summary>
/// How an amax tensor maps onto an input tensor: per tensor (one value), or per slice along a run of consecutive kept
/// axes, which the engine kernels see as one axis of the view <c>[outer, channels, inner]</c>.
/// </summary>
/// <remarks>
/// amax broadcasts against x as in PyTorch: shapes are aligned at the right, and every amax dimension is 1 or equal to
/// x's. The dimensions where amax is not 1 are the kept axes; they must be consecutive (e.g. axis 0 of a KCRS weight, or
/// axes (1, 2)), because the shared kernel quantizes along one (merged) axis.
/// </remarks>
internal sealed class AmaxLayout
{
    private AmaxLayout(float[] amax, int[] view, int? axis, int[] amaxShape)
    {
        Amax = amax;
        View = view;
        Axis = axis;
        AmaxShape = amaxShape;
    }

    /// <summary>amax values (length 1 per tensor, else one per channel of the merged axis).</summary>
    public float[] Amax { get; }

    /// <summary>The shape x is viewed as for the kernel: [length] per tensor, [outer, channels, inner] per axis.</summary>
    public int[] View { get; }

    /// <summary>Axis 1 of <see cref="View"/> per channel, null per tensor.</summary>
    public int? Axis { get; }

    /// <summary>The shape of the given amax tensor (the shape of the returned scale).</summary>
    public int[] AmaxShape { get; }

    /// <summary>True when some amax is at most <see cref="TensorQuant.ZeroAmaxThreshold"/> (those slices quantize to 0).</summary>
    public bool HasZero => Amax.Any(a => a <= TensorQuant.ZeroAmaxThreshold);

    /// <summary>Resolves <paramref name="amax"/> against the shape of x; errors name <paramref name="op"/>.</summary>
    public static AmaxLayout Resolve(string op, ReadOnlySpan<int> x, Tensor<float> amax)
    {
        var values = amax.AsSpan().ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            float a = values[i];
            Check.That(!float.IsNaN(a), op, "amax", "a number (NaN amax: was it calibrated?)", "NaN" + At(i, values.Length));
            Check.That(a >= 0, op, "amax", "values >= 0", a.ToString("R", CultureInfo.InvariantCulture) + At(i, values.Length));
            Check.That(!float.IsPositiveInfinity(a), op, "amax", "finite values", "Infinity" + At(i, values.Length));
        }
        Check.That(values.Length >= 1, op, "amax", "at least one value", "an empty tensor");
        int length = Shapes.Size(x);
        if (values.Length == 1)
            return new AmaxLayout(values, [length], null, amax.Shape);
        var ad = amax.Dims;
        Check.That(ad.Length <= x.Length, op, "amax", $"a shape broadcastable to x {Shapes.Format(x)}", Shapes.Format(ad));
        int first = -1, last = -1;
        for (int d = 0; d < x.Length; d++)
        {
            int k = d - (x.Length - ad.Length);
            int a = k < 0 ? 1 : ad[k];
            Check.That(a == 1 || a == x[d], op, "amax", $"a shape broadcastable to x {Shapes.Format(x)} (each dimension 1 or x's)", Shapes.Format(ad));
            if (a != 1)
            {
                Check.That(first < 0 || last == d - 1, op, "amax",
                    "kept axes (dimensions other than 1) that are consecutive", Shapes.Format(ad) + $" for x {Shapes.Format(x)}");
                if (first < 0) first = d;
                last = d;
            }
        }
        int outer = 1, channels = 1, inner = 1;
        for (int d = 0; d < first; d++) outer *= x[d];
        for (int d = first; d <= last; d++) channels *= x[d];
        for (int d = last + 1; d < x.Length; d++) inner *= x[d];
        return new AmaxLayout(values, [outer, channels, inner], 1, amax.Shape);
    }

    /// <summary>
    /// Engine parameters: <c>scale_engine = amax / maxBound</c> (one float division: the scale a QDQ export writes, so
    /// ONNX Runtime's QuantizeLinear computes the same levels), zero point 0, levels [minBound, maxBound]; a slice with
    /// amax ≤ threshold gets scale 1 (its output is zeroed separately).
    /// </summary>
    public QuantParams Params(int minBound, int maxBound)
    {
        var s = new float[Amax.Length];
        for (int c = 0; c < s.Length; c++)
            s[c] = Amax[c] <= TensorQuant.ZeroAmaxThreshold ? 1f : Amax[c] / maxBound;
        return new QuantParams(s, new int[s.Length], minBound, maxBound, Axis);
    }

    /// <summary>pytorch-quantization's scale <c>maxBound / amax</c> (1 where amax ≤ threshold), in amax's shape.</summary>
    public Tensor<float> Scale(int maxBound)
    {
        var s = new float[Amax.Length];
        for (int c = 0; c < s.Length; c++)
            s[c] = Amax[c] <= TensorQuant.ZeroAmaxThreshold ? 1f : maxBound / Amax[c];
        return new Tensor<float>(s, AmaxShape);
    }

    /// <summary>A [1, channels, 1] (or [1]) tensor of 1 where amax is above the threshold and 0 where the slice quantizes to 0.</summary>
    public Tensor<float> KeepMask()
    {
        var m = new float[Amax.Length];
        for (int c = 0; c < m.Length; c++) m[c] = Amax[c] <= TensorQuant.ZeroAmaxThreshold ? 0f : 1f;
        return Axis is null ? new Tensor<float>(m, 1) : new Tensor<float>(m, 1, m.Length, 1);
    }

    /// <summary>Sets to 0 every slice of <paramref name="y"/> (viewed as <see cref="View"/>) whose amax is at most the threshold.</summary>
    public void ZeroSlices(Span<float> y)
    {
        if (Axis is null)
        {
            if (Amax[0] <= TensorQuant.ZeroAmaxThreshold) y.Clear();
            return;
        }
        int channels = View[1], inner = View[2];
        for (int o = 0; o < View[0]; o++)
            for (int c = 0; c < channels; c++)
                if (Amax[c] <= TensorQuant.ZeroAmaxThreshold) y.Slice((o * channels + c) * inner, inner).Clear();
    }

    private static string At(int i, int n) => n > 1 ? $" at index {i}" : "";
}
