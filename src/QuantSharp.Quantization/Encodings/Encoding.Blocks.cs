using System.Collections.Immutable;
using System.Globalization;

namespace QuantSharp.Quantization.Encodings;

public sealed partial record Encoding
{
    /// <summary>Elements per block of a per-block encoding (blocks run along <see cref="Axis"/>), else null.</summary>
    public int? BlockSize { get; private init; }

    /// <summary>Whether this is a per-block encoding.</summary>
    public bool IsPerBlock => BlockSize is not null;

    /// <summary>
    /// The shape the per-block entries are laid out in (the tensor's shape with <see cref="Axis"/> divided into blocks),
    /// when known; empty otherwise (e.g. read from a file that stores the entries flat). Not part of equality: the layout
    /// follows from the tensor the encoding is applied to.
    /// </summary>
    public ImmutableArray<int> ScaleShape { get; private init; } = [];

    /// <summary>
    /// A per-block integer encoding from each block's observed range: entry <c>i</c> is
    /// <see cref="FromMinMax(double, double, int, bool, bool, bool)"/> of (<paramref name="min"/>[i], <paramref name="max"/>[i]).
    /// </summary>
    /// <param name="min">Observed minimum of each block, row-major over <paramref name="scaleShape"/>.</param>
    /// <param name="max">Observed maximum of each block.</param>
    /// <param name="scaleShape">The tensor's shape with the block axis replaced by its block count.</param>
    /// <param name="axis">The block axis.</param>
    /// <param name="blockSize">Elements per block.</param>
    /// <param name="bitWidth">2..32.</param>
    /// <param name="symmetric">Symmetric grid about zero.</param>
    /// <param name="strictSymmetric">Symmetric with the lowest signed level dropped.</param>
    /// <param name="unsignedSymmetric">Symmetric, and when no block has a negative value every block uses the unsigned grid.</param>
    /// <exception cref="ArgumentException">Mismatched arrays or shape, a bad axis, block size or bit-width, or a bad range.</exception>
    public static Encoding FromMinMaxPerBlock(ReadOnlySpan<double> min, ReadOnlySpan<double> max, ReadOnlySpan<int> scaleShape, int axis,
        int blockSize, int bitWidth, bool symmetric = false, bool strictSymmetric = false, bool unsignedSymmetric = false)
    {
        const string op = "Encoding.FromMinMaxPerBlock";
        CheckBlockLayout(op, min.Length, scaleShape, axis, blockSize);
        var perChannel = FromMinMaxPerChannel(min, max, axis, bitWidth, symmetric, strictSymmetric, unsignedSymmetric);
        return perChannel with { BlockSize = blockSize, ScaleShape = [.. scaleShape] };
    }

    /// <summary>A per-block integer encoding from known scales and offsets (each entry as in <see cref="FromScaleOffset"/>).</summary>
    /// <param name="scale">One scale per block, row-major over <paramref name="scaleShape"/>.</param>
    /// <param name="offset">One offset per block.</param>
    /// <param name="scaleShape">The block grid's shape, or empty when unknown (then only the count is checked later, against the tensor).</param>
    /// <param name="axis">The block axis.</param>
    /// <param name="blockSize">Elements per block.</param>
    /// <param name="bitWidth">2..32.</param>
    /// <param name="symmetric">Symmetric grid.</param>
    /// <param name="strictSymmetric">Strict symmetric grid.</param>
    /// <param name="unsignedSymmetric">Unsigned symmetric allowed.</param>
    /// <exception cref="ArgumentException">A bad entry, layout, axis or block size.</exception>
    public static Encoding FromScaleOffsetPerBlock(ReadOnlySpan<double> scale, ReadOnlySpan<long> offset, ReadOnlySpan<int> scaleShape, int axis,
        int blockSize, int bitWidth, bool symmetric = false, bool strictSymmetric = false, bool unsignedSymmetric = false)
    {
        const string op = "Encoding.FromScaleOffsetPerBlock";
        if (scaleShape.Length > 0) CheckBlockLayout(op, scale.Length, scaleShape, axis, blockSize);
        else if (blockSize < 1) throw Bad(op, "blockSize", "a value >= 1", blockSize.ToString(CultureInfo.InvariantCulture));
        var perChannel = FromScaleOffsets(op, scale, offset, axis, bitWidth, symmetric, strictSymmetric, unsignedSymmetric);
        return perChannel with { BlockSize = blockSize, ScaleShape = [.. scaleShape] };
    }

    /// <summary>This per-block encoding with its entries' layout given (e.g. once the tensor it applies to is known).</summary>
    /// <exception cref="ArgumentException">The shape does not hold one entry per block.</exception>
    public Encoding WithScaleShape(ReadOnlySpan<int> scaleShape)
    {
        if (BlockSize is not { } b || Axis is not { } a) throw new InvalidOperationException("Encoding.WithScaleShape: expected a per-block encoding");
        CheckBlockLayout("Encoding.WithScaleShape", Channels, scaleShape, a, b);
        return this with { ScaleShape = [.. scaleShape] };
    }

    /// <summary>This encoding's entries read as blocks of <paramref name="blockSize"/> along its axis (restoring a saved per-block encoding).</summary>
    internal Encoding AsBlocked(int blockSize, ImmutableArray<int> scaleShape)
    {
        if (Axis is not { } a) throw new ArgumentException("Encoding.AsBlocked: a per-block encoding needs an axis", nameof(blockSize));
        if (scaleShape.Length > 0) CheckBlockLayout("Encoding.AsBlocked", Channels, scaleShape.AsSpan(), a, blockSize);
        else if (blockSize < 1) throw Bad("Encoding.AsBlocked", "blockSize", "a value >= 1", blockSize.ToString(CultureInfo.InvariantCulture));
        return this with { BlockSize = blockSize, ScaleShape = scaleShape };
    }

    private static void CheckBlockLayout(string op, int entries, ReadOnlySpan<int> scaleShape, int axis, int blockSize)
    {
        if (blockSize < 1) throw Bad(op, "blockSize", "a value >= 1", blockSize.ToString(CultureInfo.InvariantCulture));
        if (axis < 0 || axis >= scaleShape.Length) throw Bad(op, "axis", $"0..{scaleShape.Length - 1} (an axis of the scale shape)", axis.ToString(CultureInfo.InvariantCulture));
        long count = 1;
        foreach (int d in scaleShape) count *= d;
        if (count != entries) throw Bad(op, "scaleShape", $"{entries} entries (one per block)", $"[{string.Join(", ", scaleShape.ToArray())}] ({count})");
    }
}
