using System.Collections.Immutable;
using System.Globalization;

namespace QuantSharp.Quantization.Encodings;

public sealed partial record Encoding
{
    /// <summary>Smallest range an encoding is given: <c>max</c> is raised to at least <c>min + MinRange</c> (AIMET's gate, 1e-5).</summary>
    public const double MinRange = 1e-5;

    /// <summary>Computes a per-tensor integer encoding from an observed range with AIMET's formulas.</summary>
    /// <remarks>
    /// <para>First <c>min ← min(min, 0)</c>, <c>max ← max(max, 0, min + 1e-5)</c> so that zero is exactly representable
    /// and the range is not empty. Let <c>steps = 2^bw − 1</c> (<c>2^bw − 2</c> when symmetric and strict).</para>
    /// <para>Asymmetric, or unsigned symmetric with <c>min = 0</c> after widening: <c>scale = (max − min)/steps</c>,
    /// <c>offset = round(min/scale)</c> (half to even), then <c>min = offset·scale</c>, <c>max = min + steps·scale</c>.</para>
    /// <para>Signed symmetric: <c>scale = max(|min|, |max|)/floor(steps/2)</c> (= absmax/127 at 8 bits, strict or not),
    /// <c>offset = −floor(steps/2) − 1</c> (−128 at 8 bits), or <c>−floor(steps/2)</c> when strict (−127);
    /// <c>min = offset·scale</c>, <c>max = floor(steps/2)·scale</c>. All arithmetic is in double.</para>
    /// <para>As in AIMET, strict symmetric shortens the grid to <c>2^bw − 2</c> steps also for an unsigned symmetric
    /// channel (scale = max/254 at 8 bits).</para>
    /// </remarks>
    /// <param name="min">Observed minimum (finite, ≤ <paramref name="max"/>).</param>
    /// <param name="max">Observed maximum (finite).</param>
    /// <param name="bitWidth">2..32.</param>
    /// <param name="symmetric">Symmetric grid about zero.</param>
    /// <param name="strictSymmetric">Symmetric with the lowest signed level dropped.</param>
    /// <param name="unsignedSymmetric">Symmetric, but a range with no negative values uses the unsigned grid 0..max.</param>
    /// <exception cref="ArgumentException">A bad bit-width, a NaN or infinite bound, or min &gt; max; the message names the argument.</exception>
    public static Encoding FromMinMax(double min, double max, int bitWidth, bool symmetric = false, bool strictSymmetric = false,
        bool unsignedSymmetric = false)
    {
        const string op = "Encoding.FromMinMax";
        CheckBitWidth(op, bitWidth);
        CheckRange(op, "min", "max", min, max, -1);
        var (mn, mx, s, o) = Compute(min, max, bitWidth, symmetric, strictSymmetric, unsignedSymmetric);
        return new Encoding(EncodingDataType.Int, bitWidth, symmetric, symmetric && strictSymmetric, symmetric && unsignedSymmetric, null,
            [mn], [mx], [s], [o]);
    }

    /// <summary>Computes a per-channel integer encoding: channel <c>c</c> is <see cref="FromMinMax(double, double, int, bool, bool, bool)"/> of (<paramref name="min"/>[c], <paramref name="max"/>[c]).</summary>
    /// <param name="min">Observed minimum of each channel.</param>
    /// <param name="max">Observed maximum of each channel (same length as <paramref name="min"/>).</param>
    /// <param name="axis">The channel axis of the tensor the encoding applies to (e.g. 0 for conv weights).</param>
    /// <param name="bitWidth">2..32.</param>
    /// <param name="symmetric">Symmetric grid about zero.</param>
    /// <param name="strictSymmetric">Symmetric with the lowest signed level dropped.</param>
    /// <param name="unsignedSymmetric">Symmetric, and when no channel has a negative value every channel uses the unsigned grid (one integer type for the tensor).</param>
    /// <exception cref="ArgumentException">Empty or mismatched arrays, a bad bit-width, a NaN or infinite bound, or min &gt; max in some channel.</exception>
    public static Encoding FromMinMaxPerChannel(ReadOnlySpan<double> min, ReadOnlySpan<double> max, int axis, int bitWidth,
        bool symmetric = false, bool strictSymmetric = false, bool unsignedSymmetric = false)
    {
        const string op = "Encoding.FromMinMaxPerChannel";
        CheckBitWidth(op, bitWidth);
        if (min.Length == 0) throw Bad(op, "min", "at least one channel", "an empty array");
        if (max.Length != min.Length) throw Bad(op, "max", $"{min.Length} values (one per channel, as in 'min')", max.Length.ToString(CultureInfo.InvariantCulture));
        var mins = new double[min.Length];
        var maxs = new double[min.Length];
        var scales = new double[min.Length];
        var offsets = new long[min.Length];
        // The unsigned grid only when no channel has a negative value: channels mixing signed (offset −2^(bw−1)) and unsigned
        // (offset 0) grids fit no single integer type, and runtimes then store the weight as uint8 with a zero point per
        // channel — off ONNX Runtime's int8 fast path (measured: a per-channel MobileNetV2 ran 4–6× slower than FP32).
        bool anyNegative = false;
        for (int c = 0; c < min.Length; c++) anyNegative |= min[c] < 0;
        bool unsignedGrid = unsignedSymmetric && !anyNegative;
        for (int c = 0; c < min.Length; c++)
        {
            CheckRange(op, "min", "max", min[c], max[c], c);
            (mins[c], maxs[c], scales[c], offsets[c]) = Compute(min[c], max[c], bitWidth, symmetric, strictSymmetric, unsignedGrid);
        }
        return new Encoding(EncodingDataType.Int, bitWidth, symmetric, symmetric && strictSymmetric, symmetric && unsignedSymmetric, axis,
            ImmutableArray.Create(mins), ImmutableArray.Create(maxs), ImmutableArray.Create(scales), ImmutableArray.Create(offsets));
    }

    /// <summary>A per-tensor integer encoding from a known scale and offset (e.g. a learned or stored encoding).</summary>
    /// <remarks>
    /// <c>min = offset·scale</c>; <c>max = min + steps·scale</c> (asymmetric) or <c>(offset + steps)·scale</c> (symmetric) —
    /// computed exactly as <see cref="FromMinMax(double, double, int, bool, bool, bool)"/> computes them, so an encoding
    /// stored as scale and offset and read back is equal to the original. <c>steps = 2^bw − 1</c> (<c>2^bw − 2</c> when
    /// symmetric and strict). The offset must keep zero on the grid (<c>−steps ≤ offset ≤ 0</c>); a symmetric encoding's
    /// offset must be the one <see cref="FromMinMax(double, double, int, bool, bool, bool)"/> produces:
    /// <c>−2^(bw−1)</c>, <c>−(2^(bw−1) − 1)</c> when strict, or 0 when unsigned symmetric.
    /// </remarks>
    /// <exception cref="ArgumentException">A bad bit-width, a scale not finite and &gt; 0, or an offset off the allowed values.</exception>
    public static Encoding FromScaleOffset(double scale, long offset, int bitWidth, bool symmetric = false, bool strictSymmetric = false,
        bool unsignedSymmetric = false) =>
        FromScaleOffsets("Encoding.FromScaleOffset", [scale], [offset], null, bitWidth, symmetric, strictSymmetric, unsignedSymmetric);

    /// <summary>A per-channel integer encoding from known scales and offsets, one per channel along <paramref name="axis"/>
    /// (each channel as in <see cref="FromScaleOffset"/>).</summary>
    /// <exception cref="ArgumentException">Empty or mismatched arrays, or a channel's scale or offset is invalid (the message names the channel).</exception>
    public static Encoding FromScaleOffsetPerChannel(ReadOnlySpan<double> scale, ReadOnlySpan<long> offset, int axis, int bitWidth,
        bool symmetric = false, bool strictSymmetric = false, bool unsignedSymmetric = false) =>
        FromScaleOffsets("Encoding.FromScaleOffsetPerChannel", scale, offset, axis, bitWidth, symmetric, strictSymmetric, unsignedSymmetric);

    private static Encoding FromScaleOffsets(string op, ReadOnlySpan<double> scale, ReadOnlySpan<long> offset, int? axis, int bitWidth,
        bool symmetric, bool strictSymmetric, bool unsignedSymmetric)
    {
        CheckBitWidth(op, bitWidth);
        if (scale.Length == 0) throw Bad(op, "scale", "at least one channel", "an empty array");
        if (offset.Length != scale.Length) throw Bad(op, "offset", $"{scale.Length} values (one per scale)", offset.Length.ToString(CultureInfo.InvariantCulture));
        bool strict = symmetric && strictSymmetric;
        long steps = (1L << bitWidth) - 1 - (strict ? 1 : 0);
        var mins = new double[scale.Length];
        var maxs = new double[scale.Length];
        for (int c = 0; c < scale.Length; c++)
        {
            string at = axis is null ? "" : $" at channel {c}";
            if (!(double.IsFinite(scale[c]) && scale[c] > 0)) throw Bad(op, "scale", "a finite value > 0", Str(scale[c]) + at);
            string offs = offset[c].ToString(CultureInfo.InvariantCulture) + at;
            if (offset[c] < -steps || offset[c] > 0) throw Bad(op, "offset", $"a value in [{-steps}, 0] (zero on the grid)", offs);
            if (symmetric)
            {
                long signedOffset = strict ? -(steps / 2) : -(steps / 2) - 1;
                if (!(offset[c] == signedOffset || (unsignedSymmetric && offset[c] == 0)))
                    throw Bad(op, "offset", $"{signedOffset}{(unsignedSymmetric ? " or 0" : "")} for a symmetric {bitWidth}-bit encoding", offs);
            }
            (mins[c], maxs[c]) = GridBounds(scale[c], offset[c], steps, symmetric);
        }
        return new Encoding(EncodingDataType.Int, bitWidth, symmetric, strict, symmetric && unsignedSymmetric, axis,
            ImmutableArray.Create(mins), ImmutableArray.Create(maxs), ImmutableArray.Create(scale.ToArray()), ImmutableArray.Create(offset.ToArray()));
    }

    /// <summary>The grid's end points, computed one way everywhere (FromMinMax and FromScaleOffset agree to the bit).</summary>
    private static (double Min, double Max) GridBounds(double scale, long offset, long steps, bool symmetric)
    {
        double min = offset * scale;
        return (min, symmetric ? (offset + steps) * scale : min + steps * scale);
    }

    /// <summary>
    /// An encoding from its stored fields exactly as saved (checkpoints), without recomputing them: the per-channel
    /// arrays must have equal lengths (one entry, or one per channel along <paramref name="axis"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Array lengths that disagree, or a bit-width outside 2..32.</exception>
    internal static Encoding Restore(EncodingDataType dataType, int bitWidth, bool symmetric, bool strictSymmetric, bool unsignedSymmetric,
        int? axis, ImmutableArray<double> min, ImmutableArray<double> max, ImmutableArray<double> scale, ImmutableArray<long> offset)
    {
        CheckBitWidth("Encoding.Restore", bitWidth);
        int n = scale.Length;
        if (min.Length != n || max.Length != n || offset.Length != n || (dataType == EncodingDataType.Int && (n == 0 || (axis is null && n != 1))))
            throw Bad("Encoding.Restore", "scale", $"min, max, scale and offset of equal length ({(axis is null ? "1 per tensor" : "1 per channel")})",
                $"{min.Length}, {max.Length}, {n}, {offset.Length}");
        return new Encoding(dataType, bitWidth, symmetric, strictSymmetric, unsignedSymmetric, axis, min, max, scale, offset);
    }

    /// <summary>A floating-point encoding (AIMET <c>dtype: float</c>) of 16 or 32 bits: a cast, with no scale or offset.</summary>
    /// <exception cref="ArgumentException"><paramref name="bitWidth"/> is not 16 or 32.</exception>
    public static Encoding FloatType(int bitWidth)
    {
        if (bitWidth is not (16 or 32))
            throw Bad("Encoding.FloatType", "bitWidth", "16 or 32", bitWidth.ToString(CultureInfo.InvariantCulture));
        return new Encoding(EncodingDataType.Float, bitWidth, false, false, false, null, [], [], [], []);
    }

    private static void CheckBitWidth(string op, int bitWidth)
    {
        if (bitWidth is < 2 or > 32)
            throw Bad(op, "bitWidth", "2..32", bitWidth.ToString(CultureInfo.InvariantCulture));
    }

    private static void CheckRange(string op, string minArg, string maxArg, double min, double max, int channel)
    {
        string at = channel >= 0 ? $" at channel {channel}" : "";
        if (!double.IsFinite(min)) throw Bad(op, minArg, "a finite value", Str(min) + at);
        if (!double.IsFinite(max)) throw Bad(op, maxArg, "a finite value", Str(max) + at);
        if (min > max) throw Bad(op, minArg, $"a value <= max ({Str(max)})", Str(min) + at);
    }

    /// <summary>AIMET's encoding formulas for one channel (see <see cref="FromMinMax(double, double, int, bool, bool, bool)"/>).</summary>
    private static (double Min, double Max, double Scale, long Offset) Compute(double min, double max, int bitWidth,
        bool symmetric, bool strict, bool unsignedSymmetric)
    {
        min = Math.Min(min, 0.0);
        max = Math.Max(Math.Max(max, 0.0), min + MinRange);
        long steps = (1L << bitWidth) - 1 - (symmetric && strict ? 1 : 0);
        if (symmetric && !(unsignedSymmetric && min >= 0))
        {
            long positive = steps / 2;
            double absMax = Math.Max(Math.Abs(min), Math.Abs(max));
            double scale = absMax / positive;
            long offset = strict ? -positive : -positive - 1;
            var (symMin, symMax) = GridBounds(scale, offset, steps, symmetric: true);
            return (symMin, symMax, scale, offset);
        }
        double delta = (max - min) / steps;
        long off = (long)Math.Round(min / delta, MidpointRounding.ToEven);
        var (lo, hi) = GridBounds(delta, off, steps, symmetric: false);
        return (lo, hi, delta, off);
    }
}
