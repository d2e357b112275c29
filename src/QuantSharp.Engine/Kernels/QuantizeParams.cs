using System.Globalization;

namespace QuantSharp.Engine.Kernels;

/// <summary>How a scaled value is rounded to an integer level.</summary>
public enum QuantRounding
{
    /// <summary>Round half to even (ONNX <c>QuantizeLinear</c>, <c>torch.round</c>): 2.5 → 2, 3.5 → 4, −2.5 → −2.</summary>
    HalfToEven,
    /// <summary>
    /// Stochastic rounding: <c>floor(v + u)</c> with u uniform in [0, 1) drawn from a counter-based hash of
    /// (seed, element index), so the result is reproducible and independent of threading and SIMD width.
    /// </summary>
    Stochastic,
}

/// <summary>
/// Parameters of an affine (uniform) quantizer, per tensor or per axis:
/// <c>q = clamp(round(x / scale) + zeroPoint, QMin, QMax)</c>, <c>x̂ = (q − zeroPoint)·scale</c>.
/// </summary>
/// <remarks>
/// <para>This is ONNX's <c>QuantizeLinear</c>/<c>DequantizeLinear</c> form. AIMET's encoding
/// <c>q = clamp(round(x/scale) − offset, 0, 2^bw − 1)</c>, <c>x̂ = (q + offset)·scale</c> is the same quantizer with
/// <c>zeroPoint = −offset</c>, <c>QMin = 0</c>, <c>QMax = 2^bw − 1</c>. pytorch-quantization's amax form
/// <c>fake = round(x·s)/s</c> with <c>s = (2^(bits−1) − 1)/amax</c> is <c>scale = amax/(2^(bits−1) − 1)</c>,
/// <c>zeroPoint = 0</c>, range −(2^(bits−1) − 1)..2^(bits−1) − 1 (narrow) — except that it multiplies by s where
/// this kernel divides by scale, which can move a value lying within an ulp of a .5 tie to the other level.</para>
/// <para>The kernel divides (<c>x / scale</c>, as ONNX specifies and ONNX Runtime computes) rather than multiplying
/// by a reciprocal, so ties round exactly as ONNX Runtime does. The clamp bounds are given explicitly, so signed,
/// unsigned, narrow and full ranges of any bit-width 2–16 go through the same code; a NaN input quantizes to the
/// zero point (dequantizes to 0) and counts as clipped.</para>
/// </remarks>
public sealed record QuantParams
{
    /// <summary>Creates quantizer parameters (validated against a tensor by each kernel call).</summary>
    /// <param name="scale">One scale (per tensor) or one per slice along <paramref name="axis"/>.</param>
    /// <param name="zeroPoint">Zero points, as many as scales.</param>
    /// <param name="qMin">Lowest integer level.</param>
    /// <param name="qMax">Highest integer level.</param>
    /// <param name="axis">The axis with its own scale and zero point, or null for per-tensor.</param>
    public QuantParams(float[] scale, int[] zeroPoint, int qMin, int qMax, int? axis = null)
    {
        Scale = scale;
        ZeroPoint = zeroPoint;
        QMin = qMin;
        QMax = qMax;
        Axis = axis;
    }

    /// <summary>Per-tensor parameters.</summary>
    public static QuantParams PerTensor(float scale, int zeroPoint, int qMin, int qMax) => new([scale], [zeroPoint], qMin, qMax);

    /// <summary>Per-axis parameters: slice <c>c</c> along <paramref name="axis"/> uses <c>scale[c]</c> and <c>zeroPoint[c]</c>.</summary>
    public static QuantParams PerAxis(float[] scale, int[] zeroPoint, int axis, int qMin, int qMax) => new(scale, zeroPoint, qMin, qMax, axis);

    /// <summary>Scales (length 1 for per-tensor, else the size of <see cref="Axis"/>).</summary>
    public float[] Scale { get; init; }

    /// <summary>Zero points (as many as scales).</summary>
    public int[] ZeroPoint { get; init; }

    /// <summary>Lowest integer level.</summary>
    public int QMin { get; init; }

    /// <summary>Highest integer level.</summary>
    public int QMax { get; init; }

    /// <summary>The per-axis axis (may be negative), or null for per-tensor.</summary>
    public int? Axis { get; init; }

    /// <summary>Rounding mode (default round half to even).</summary>
    public QuantRounding Rounding { get; init; } = QuantRounding.HalfToEven;

    /// <summary>Seed of stochastic rounding.</summary>
    public uint Seed { get; init; }

    /// <summary>
    /// Checks the parameters against a tensor shape and returns the layout [outer, channels, inner] the kernels walk.
    /// </summary>
    /// <exception cref="ShapeException">
    /// Range not 2..65535 levels wide, scale not finite and positive, zero point outside [QMin, QMax], axis out of range,
    /// or the number of scales/zero points not matching the axis (each message names <paramref name="op"/>).
    /// </exception>
    public (int Outer, int Channels, int Inner) Validate(string op, ReadOnlySpan<int> shape, bool checkRange = true)
    {
        if (checkRange)
        {
            long span = (long)QMax - QMin;
            Check.That(span >= 2 && span <= 65535, op, "qmin/qmax", "a range of 3 to 65536 levels (2 to 16 bits)",
                $"[{QMin}, {QMax}]");
        }
        Check.That(Scale.Length >= 1, op, "scale", "at least one scale", "none");
        Check.That(ZeroPoint.Length == Scale.Length, op, "zeroPoint", $"{Scale.Length} zero points (one per scale)", $"{ZeroPoint.Length}");
        for (int i = 0; i < Scale.Length; i++)
        {
            float s = Scale[i];
            Check.That(float.IsFinite(s) && s > 0, op, "scale", "finite values > 0", s.ToString("R", CultureInfo.InvariantCulture) + (Scale.Length > 1 ? $" at index {i}" : ""));
            int z = ZeroPoint[i];
            Check.That(z >= QMin && z <= QMax, op, "zeroPoint", $"values in [{QMin}, {QMax}]", z.ToString(CultureInfo.InvariantCulture) + (ZeroPoint.Length > 1 ? $" at index {i}" : ""));
        }
        int length = Shapes.Size(shape);
        if (Axis is not { } a)
        {
            Check.That(Scale.Length == 1, op, "scale", "one scale for per-tensor quantization (axis = null)", $"{Scale.Length}");
            return (1, 1, length);
        }
        int ax = Check.Axis(op, "axis", a, shape.Length);
        Check.That(shape.Length > 0, op, "axis", "a tensor of rank >= 1 for per-axis quantization", "a scalar");
        int channels = shape[ax];
        Check.That(Scale.Length == channels, op, "scale", $"{channels} scales (dimension {ax} of shape {Shapes.Format(shape)})", $"{Scale.Length}");
        int outer = 1, inner = 1;
        for (int i = 0; i < ax; i++) outer *= shape[i];
        for (int i = ax + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, channels, inner);
    }
}

/// <summary>Integer ranges by bit-width and signedness, and the natural range of each integer element type.</summary>
public static class QuantRange
{
    /// <summary>
    /// The range of a <paramref name="bits"/>-bit quantizer: unsigned 0..2^bits − 1; signed −2^(bits−1)..2^(bits−1) − 1;
    /// narrow drops the lowest level (signed −(2^(bits−1) − 1)..2^(bits−1) − 1, unsigned 1..2^bits − 1).
    /// </summary>
    /// <exception cref="ShapeException"><paramref name="bits"/> outside 2..16.</exception>
    public static (int QMin, int QMax) Of(int bits, bool signed, bool narrow = false)
    {
        Check.That(bits is >= 2 and <= 16, "QuantRange", "bits", "2..16", bits.ToString(CultureInfo.InvariantCulture));
        int lo = signed ? -(1 << (bits - 1)) : 0;
        int hi = signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
        return (narrow ? lo + 1 : lo, hi);
    }

    /// <summary>The full range of integer element type <typeparamref name="T"/> (sbyte, byte, short, ushort; int is limited to ±2^24, exactly representable in float).</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not an integer element type.</exception>
    public static (int QMin, int QMax) OfType<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(sbyte)) return (sbyte.MinValue, sbyte.MaxValue);
        if (typeof(T) == typeof(byte)) return (byte.MinValue, byte.MaxValue);
        if (typeof(T) == typeof(short)) return (short.MinValue, short.MaxValue);
        if (typeof(T) == typeof(ushort)) return (ushort.MinValue, ushort.MaxValue);
        if (typeof(T) == typeof(int)) return (-(1 << 24), 1 << 24);
        throw new NotSupportedException($"Quantize: element type {typeof(T).Name} is not an integer type; expected sbyte, byte, short, ushort or int");
    }
}
