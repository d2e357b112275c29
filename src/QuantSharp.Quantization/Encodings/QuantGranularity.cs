namespace QuantSharp.Quantization.Encodings;

/// <summary>
/// Which elements of a tensor share one scale and offset: the whole tensor, each slice along a channel axis, or each
/// run of <c>BlockSize</c> consecutive elements along a block axis (one block grid per index of the other axes).
/// Encodings, sim quantizers, the encoding analysis and every export read this one description.
/// </summary>
public abstract record QuantGranularity
{
    private protected QuantGranularity() { }

    /// <summary>One scale and offset for the whole tensor.</summary>
    public static QuantGranularity PerTensor { get; } = new Tensor();

    /// <summary>The axis entries are laid out along (null per tensor).</summary>
    public abstract int? Axis { get; }

    /// <summary>Per tensor.</summary>
    public sealed record Tensor : QuantGranularity
    {
        /// <inheritdoc />
        public override int? Axis => null;

        /// <inheritdoc />
        public override string ToString() => "per-tensor";
    }

    /// <summary>One entry per index along <paramref name="ChannelAxis"/>.</summary>
    /// <param name="ChannelAxis">The channel axis.</param>
    public sealed record PerChannel(int ChannelAxis) : QuantGranularity
    {
        /// <inheritdoc />
        public override int? Axis => ChannelAxis;

        /// <inheritdoc />
        public override string ToString() => $"per-channel(axis={ChannelAxis})";
    }

    /// <summary>
    /// One entry per block: the tensor's extent along <paramref name="BlockAxis"/> is cut into runs of
    /// <paramref name="BlockSize"/> (the last one shorter when it does not divide), independently for every index of the
    /// other axes. The entries are laid out row-major over the tensor's shape with that axis replaced by the block count
    /// (ONNX's blocked <c>DequantizeLinear</c> scale).
    /// </summary>
    /// <param name="BlockAxis">The axis cut into blocks (the reduction axis of a weight).</param>
    /// <param name="BlockSize">Elements per block, ≥ 1.</param>
    public sealed record PerBlock(int BlockAxis, int BlockSize) : QuantGranularity
    {
        /// <inheritdoc />
        public override int? Axis => BlockAxis;

        /// <inheritdoc />
        public override string ToString() => $"per-block(axis={BlockAxis}, size={BlockSize})";
    }
}
