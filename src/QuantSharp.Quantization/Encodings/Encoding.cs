using System.Collections.Immutable;
using System.Globalization;

namespace QuantSharp.Quantization.Encodings;

/// <summary>
/// An immutable AIMET-style quantization encoding: bit-width, min, max, scale (delta), offset, symmetry flags and
/// data type, per tensor or per channel (one entry per channel along <see cref="Axis"/>).
/// </summary>
/// <remarks>
/// <para>Integer encodings quantize as <c>q = clamp(round(x/scale) − offset, 0, Steps)</c> (round half to even) and
/// dequantize as <c>x̂ = (q + offset)·scale</c>, where <c>Steps = 2^bw − 1</c>, or <c>2^bw − 2</c> for a strict
/// symmetric encoding. Hence <c>min = offset·scale</c> and <c>max = (offset + Steps)·scale</c> are grid points.</para>
/// <para>Create encodings with <see cref="FromMinMax(double, double, int, bool, bool, bool)"/>,
/// <see cref="FromMinMaxPerChannel"/>, <see cref="FromScaleOffset"/>, <see cref="FromAmax(double, int, bool, bool)"/>,
/// <see cref="FromAmaxPerChannel"/> or <see cref="FloatType"/>;
/// equality compares every field and every per-channel entry.</para>
/// </remarks>
public sealed partial record Encoding
{
    private Encoding(EncodingDataType dataType, int bitWidth, bool symmetric, bool strictSymmetric, bool unsignedSymmetric,
        int? axis, ImmutableArray<double> min, ImmutableArray<double> max, ImmutableArray<double> scale, ImmutableArray<long> offset)
    {
        DataType = dataType;
        BitWidth = bitWidth;
        Symmetric = symmetric;
        StrictSymmetric = strictSymmetric;
        UnsignedSymmetric = unsignedSymmetric;
        Axis = axis;
        Mins = min;
        Maxs = max;
        Scales = scale;
        Offsets = offset;
    }

    /// <summary>Integer grid or floating-point cast.</summary>
    public EncodingDataType DataType { get; }

    /// <summary>Bit-width: 2..32 for <see cref="EncodingDataType.Int"/>, 16 or 32 for <see cref="EncodingDataType.Float"/>.</summary>
    public int BitWidth { get; }

    /// <summary>Whether the grid is symmetric about zero (AIMET <c>is_symmetric</c>).</summary>
    public bool Symmetric { get; }

    /// <summary>Strict symmetric: the grid has <c>2^bw − 2</c> steps (signed: −(2^(bw−1) − 1)..2^(bw−1) − 1 levels, offset −2^(bw−1) + 1).</summary>
    public bool StrictSymmetric { get; }

    /// <summary>Unsigned symmetric was requested: a channel whose data has no negative values gets offset 0 (grid 0..max).</summary>
    public bool UnsignedSymmetric { get; }

    /// <summary>The channel axis of a per-channel encoding, or null for per-tensor.</summary>
    public int? Axis { get; }

    /// <summary>Whether this is a per-channel encoding (one entry per index along <see cref="Axis"/>).</summary>
    public bool IsPerChannel => Axis is not null && BlockSize is null;

    /// <summary>How the entries map onto the tensor: per tensor, per channel or per block (see <see cref="QuantGranularity"/>).</summary>
    public QuantGranularity Granularity => Axis is not { } a ? QuantGranularity.PerTensor
        : BlockSize is { } b ? new QuantGranularity.PerBlock(a, b) : new QuantGranularity.PerChannel(a);

    /// <summary>Number of entries (1 for per-tensor, the channel count otherwise; 0 for a float encoding).</summary>
    public int Channels => Scales.Length;

    /// <summary>Grid minimum of each channel (<c>offset·scale</c>).</summary>
    public ImmutableArray<double> Mins { get; }

    /// <summary>Grid maximum of each channel (<c>(offset + Steps)·scale</c>).</summary>
    public ImmutableArray<double> Maxs { get; }

    /// <summary>Scale (delta, step size) of each channel.</summary>
    public ImmutableArray<double> Scales { get; }

    /// <summary>Offset of each channel (the integer grid index of <c>min</c>, ≤ 0).</summary>
    public ImmutableArray<long> Offsets { get; }

    /// <summary>Number of quantization steps: <c>2^bw − 1</c>, or <c>2^bw − 2</c> when symmetric and strict; the top integer level.</summary>
    public long Steps => DataType == EncodingDataType.Float ? 0 : (1L << BitWidth) - 1 - (Symmetric && StrictSymmetric ? 1 : 0);

    /// <summary>Minimum of a per-tensor encoding.</summary>
    /// <exception cref="InvalidOperationException">The encoding is per-channel or float.</exception>
    public double Min => Single(Mins);

    /// <summary>Maximum of a per-tensor encoding.</summary>
    /// <exception cref="InvalidOperationException">The encoding is per-channel or float.</exception>
    public double Max => Single(Maxs);

    /// <summary>Scale (delta) of a per-tensor encoding.</summary>
    /// <exception cref="InvalidOperationException">The encoding is per-channel or float.</exception>
    public double Scale => Single(Scales);

    /// <summary>Offset of a per-tensor encoding.</summary>
    /// <exception cref="InvalidOperationException">The encoding is per-channel or float.</exception>
    public long Offset => Single(Offsets);

    private T Single<T>(ImmutableArray<T> values)
    {
        RequireInt("Encoding");
        if (Axis is not null)
            throw new InvalidOperationException($"Encoding: a {Granularity} encoding ({Channels} entries) has no single value; use the per-channel arrays");
        return values[0];
    }

    internal void RequireInt(string op)
    {
        if (DataType != EncodingDataType.Int)
            throw new InvalidOperationException($"{op}: expected an integer encoding, got a {BitWidth}-bit float encoding");
    }

    /// <summary>Field-by-field equality, comparing the per-channel arrays element by element.</summary>
    public bool Equals(Encoding? other) =>
        other is not null && DataType == other.DataType && BitWidth == other.BitWidth && Symmetric == other.Symmetric
        && StrictSymmetric == other.StrictSymmetric && UnsignedSymmetric == other.UnsignedSymmetric && Axis == other.Axis
        && BlockSize == other.BlockSize
        && Mins.SequenceEqual(other.Mins) && Maxs.SequenceEqual(other.Maxs) && Scales.SequenceEqual(other.Scales)
        && Offsets.SequenceEqual(other.Offsets);

    /// <summary>Hash of the flags and the first channel's values.</summary>
    public override int GetHashCode() =>
        HashCode.Combine(DataType, BitWidth, Symmetric, StrictSymmetric, UnsignedSymmetric, Axis,
            Scales.IsEmpty ? 0.0 : Scales[0], Offsets.IsEmpty ? 0L : Offsets[0]);

    /// <summary>A readable summary, e.g. <c>Encoding(int8 symmetric, min=-2, max=1.984375, scale=0.015625, offset=-128)</c>.</summary>
    public override string ToString()
    {
        var ic = CultureInfo.InvariantCulture;
        if (DataType == EncodingDataType.Float) return $"Encoding(float{BitWidth})";
        string kind = Symmetric ? (StrictSymmetric ? "strict symmetric" : "symmetric") : "asymmetric";
        if (IsPerChannel) return $"Encoding(int{BitWidth} {kind}, axis={Axis}, channels={Channels})";
        if (IsPerBlock) return $"Encoding(int{BitWidth} {kind}, {Granularity}, blocks={Channels})";
        return string.Create(ic, $"Encoding(int{BitWidth} {kind}, min={Min}, max={Max}, scale={Scale}, offset={Offset})");
    }

    internal static ArgumentException Bad(string op, string arg, string expected, string actual) =>
        new($"{op}: argument '{arg}' expected {expected}, got {actual}", arg);

    internal static string Str(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
