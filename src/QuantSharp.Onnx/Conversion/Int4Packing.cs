using QuantSharp.Engine;

namespace QuantSharp.Onnx;

/// <summary>
/// ONNX INT4/UINT4 storage: two 4-bit elements per byte, element 2k in the low nibble and element 2k+1 in the
/// high nibble of byte k; an odd count leaves the last high nibble zero.
/// </summary>
/// <remarks>
/// Packing: <c>byte[k] = (v[2k] &amp; 0xF) | ((v[2k+1] &amp; 0xF) &lt;&lt; 4)</c>. Signed unpacking sign-extends each
/// nibble from bit 3 (two's complement, range −8..7); unsigned gives 0..15.
/// </remarks>
public static class Int4Packing
{
    /// <summary>Bytes needed for <paramref name="count"/> 4-bit elements: <c>⌈count / 2⌉</c>.</summary>
    public static long PackedLength(long count) => (count + 1) / 2;

    /// <summary>Packs signed values (each in −8..7) into <paramref name="packed"/>.</summary>
    /// <exception cref="ShapeException">A value is out of range or <paramref name="packed"/> has the wrong length.</exception>
    public static void PackSigned(ReadOnlySpan<sbyte> values, Span<byte> packed)
    {
        CheckLength(values.Length, packed.Length);
        for (int i = 0; i < values.Length; i++)
        {
            int v = values[i];
            if (v < -8 || v > 7)
                Check.That(false, "Int4Packing.PackSigned", "values", "INT4 values in [-8, 7]", $"{v} at index {i}");
        }
        int n = values.Length;
        for (int k = 0; 2 * k < n; k++)
        {
            int lo = values[2 * k] & 0xF;
            int hi = 2 * k + 1 < n ? values[2 * k + 1] & 0xF : 0;
            packed[k] = (byte)(lo | (hi << 4));
        }
    }

    /// <summary>Packs unsigned values (each in 0..15) into <paramref name="packed"/>.</summary>
    /// <exception cref="ShapeException">A value is out of range or <paramref name="packed"/> has the wrong length.</exception>
    public static void PackUnsigned(ReadOnlySpan<byte> values, Span<byte> packed)
    {
        CheckLength(values.Length, packed.Length);
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] > 15)
                Check.That(false, "Int4Packing.PackUnsigned", "values", "UINT4 values in [0, 15]", $"{values[i]} at index {i}");
        }
        int n = values.Length;
        for (int k = 0; 2 * k < n; k++)
        {
            int lo = values[2 * k];
            int hi = 2 * k + 1 < n ? values[2 * k + 1] : 0;
            packed[k] = (byte)(lo | (hi << 4));
        }
    }

    /// <summary>Unpacks <paramref name="values"/>.Length signed 4-bit elements from <paramref name="packed"/>.</summary>
    public static void UnpackSigned(ReadOnlySpan<byte> packed, Span<sbyte> values)
    {
        CheckLength(values.Length, packed.Length);
        for (int i = 0; i < values.Length; i++)
        {
            int nibble = (packed[i >> 1] >> ((i & 1) * 4)) & 0xF;
            values[i] = (sbyte)((nibble ^ 8) - 8);
        }
    }

    /// <summary>Unpacks <paramref name="values"/>.Length unsigned 4-bit elements from <paramref name="packed"/>.</summary>
    public static void UnpackUnsigned(ReadOnlySpan<byte> packed, Span<byte> values)
    {
        CheckLength(values.Length, packed.Length);
        for (int i = 0; i < values.Length; i++)
            values[i] = (byte)((packed[i >> 1] >> ((i & 1) * 4)) & 0xF);
    }

    private static void CheckLength(int count, int packedLength)
    {
        if (packedLength != PackedLength(count))
            Check.That(false, "Int4Packing", "packed", $"length {PackedLength(count)} for {count} elements", $"length {packedLength}");
    }
}
