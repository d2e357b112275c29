namespace QuantSharp.Engine;

/// <summary>Element types a <see cref="Tensor"/> can hold (the subset of ONNX's types QuantSharp uses).</summary>
public enum DataType
{
    /// <summary>32-bit IEEE float, the default for activations and weights.</summary>
    Float32,
    /// <summary>64-bit IEEE float (reference computations, ONNX double tensors).</summary>
    Float64,
    /// <summary>Signed 8-bit integer (quantized data).</summary>
    Int8,
    /// <summary>Unsigned 8-bit integer (quantized data).</summary>
    UInt8,
    /// <summary>Signed 16-bit integer (quantized data).</summary>
    Int16,
    /// <summary>Unsigned 16-bit integer (quantized data).</summary>
    UInt16,
    /// <summary>Signed 32-bit integer (indices, accumulators).</summary>
    Int32,
    /// <summary>Signed 64-bit integer (ONNX shapes and indices).</summary>
    Int64,
    /// <summary>Boolean, one byte per element.</summary>
    Bool,
    /// <summary>Signed 4-bit integer (−8..7), held one per <c>sbyte</c> in memory, packed two per byte in ONNX files.</summary>
    Int4,
    /// <summary>Unsigned 4-bit integer (0..15), held one per <c>byte</c> in memory, packed two per byte in ONNX files.</summary>
    UInt4,
    /// <summary>FP8 E4M3FN (ONNX FLOAT8E4M3FN), held as its bit pattern in a <c>byte</c> (see <see cref="Kernels.Float8"/>).</summary>
    Float8E4M3FN,
    /// <summary>FP8 E5M2 (ONNX FLOAT8E5M2), held as its bit pattern in a <c>byte</c> (see <see cref="Kernels.Float8"/>).</summary>
    Float8E5M2,
}

/// <summary>Maps CLR element types to <see cref="DataType"/>.</summary>
public static class DataTypes
{
    /// <summary>The <see cref="DataType"/> of CLR type <typeparamref name="T"/>.</summary>
    /// <exception cref="NotSupportedException">When <typeparamref name="T"/> is not a tensor element type.</exception>
    public static DataType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DataType.Float32;
        if (typeof(T) == typeof(double)) return DataType.Float64;
        if (typeof(T) == typeof(sbyte)) return DataType.Int8;
        if (typeof(T) == typeof(byte)) return DataType.UInt8;
        if (typeof(T) == typeof(short)) return DataType.Int16;
        if (typeof(T) == typeof(ushort)) return DataType.UInt16;
        if (typeof(T) == typeof(int)) return DataType.Int32;
        if (typeof(T) == typeof(long)) return DataType.Int64;
        if (typeof(T) == typeof(bool)) return DataType.Bool;
        throw new NotSupportedException($"Tensor element type {typeof(T).Name} is not supported; expected float, double, sbyte, byte, short, ushort, int, long or bool.");
    }

    /// <summary>
    /// The CLR element type that stores <paramref name="type"/> in memory (4-bit types live in sbyte/byte, one per element;
    /// FP8 in a byte holding its bits).
    /// </summary>
    public static DataType Storage(DataType type) => type switch
    {
        DataType.Int4 => DataType.Int8,
        DataType.UInt4 or DataType.Float8E4M3FN or DataType.Float8E5M2 => DataType.UInt8,
        _ => type,
    };

    /// <summary>Size in bytes of one element of <paramref name="type"/> in memory.</summary>
    public static int SizeOf(DataType type) => type switch
    {
        DataType.Float32 or DataType.Int32 => 4,
        DataType.Float64 or DataType.Int64 => 8,
        DataType.Int16 or DataType.UInt16 => 2,
        _ => 1,
    };
}
