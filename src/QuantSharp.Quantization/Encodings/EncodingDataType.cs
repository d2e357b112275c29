namespace QuantSharp.Quantization.Encodings;

/// <summary>The kind of number an encoding quantizes to (AIMET's <c>dtype</c>: <c>int</c> or <c>float</c>).</summary>
public enum EncodingDataType
{
    /// <summary>Affine integer grid: <c>q = clamp(round(x/scale) − offset, 0, steps)</c>.</summary>
    Int,
    /// <summary>Floating-point cast (16 or 32 bits); no scale or offset.</summary>
    Float,
}
