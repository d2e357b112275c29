namespace QuantSharp.Quantization.MixedPrecision;

/// <summary>Settings of <see cref="AutoMixedPrecision"/>.</summary>
public sealed record AmpOptions
{
    /// <summary>The budget: stop raising once the outputs' SQNR against FP32 reaches this (dB).</summary>
    public double TargetSqnrDb { get; init; } = 30;

    /// <summary>At most this fraction of the candidate activation quantizers is raised (rounded down; at least one).</summary>
    public double MaxRaisedFraction { get; init; } = 0.10;

    /// <summary>Bit-width a raised quantizer gets (16: ONNX int16/uint16, opset 21), or 0 to run it in float (disabled).</summary>
    public int RaisedBitWidth { get; init; } = 16;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting out of range (named).</exception>
    public void Validate()
    {
        if (double.IsNaN(TargetSqnrDb)) throw new ArgumentException("AmpOptions.TargetSqnrDb: expected a number of dB, got NaN");
        if (!(MaxRaisedFraction > 0 && MaxRaisedFraction <= 1)) throw new ArgumentException($"AmpOptions.MaxRaisedFraction: expected a fraction in (0, 1], got {MaxRaisedFraction}");
        if (RaisedBitWidth is not (0 or 16)) throw new ArgumentException($"AmpOptions.RaisedBitWidth: expected 16 or 0 (float), got {RaisedBitWidth}");
    }
}
